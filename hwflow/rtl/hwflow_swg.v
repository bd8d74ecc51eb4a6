// hwflow_swg: streaming sliding-window generator (im2col) for a valid K x K
// convolution with stride STRIDE on an NHWC image of IFM_H rows by IFM_W columns.
//
// Input: IFM_H x IFM_W pixels in row-major order, each pixel IFM_CH elements of
// ELEM_BITS in CF = IFM_CH/SIMD beats (channel c in beat c/SIMD, lane c%SIMD).
// Output: for each output pixel (oy, ox), row-major, OFM_H x OFM_W with
// OFM_H = (IFM_H-K)/STRIDE+1 and OFM_W = (IFM_W-K)/STRIDE+1, its window's K*K*IFM_CH
// elements in (ky, kx, c) order, K*K*CF beats of SIMD elements: the input-vector order
// of an MVAU with MW = K*K*IFM_CH.  Trailing rows/columns no window covers are read
// and dropped.
//
// Line buffer: one simple dual-port RAM (one write, one registered read per cycle:
// BRAM/LUTRAM) of NROWS = K + TAIL row slots (TAIL below; NROWS = 2*K when STRIDE
// divides IFM_H-K) of RW = IFM_W*CF beats; global input row r lives in slot
// r mod NROWS.  While the last output row of an image is emitted, its K window rows
// (plus trailing rows no window uses) stay resident and the other K slots let the
// writer fetch the next image's first K rows, so a steady stream of images has no
// per-image bubble (with K+1 slots the reader would wait K-1 input rows per image:
// 67% overhead for a 3x3 input to a 3x3 kernel; one slot short for the trailing
// rows cost 10% on 8x8, K=3, STRIDE=2).
//
// Row bookkeeping (all in whole rows): fill = rows written - first window row R.
// The writer may write row W while W - R < NROWS (its slot is no longer read); the
// reader may emit while fill >= K (all K window rows complete).  After the last
// window of an output row the reader frees STRIDE rows, after the last of an image
// TAIL = IFM_H - (OFM_H-1)*STRIDE rows (the trailing rows no window uses, which
// may not be written yet: fill goes down to K - TAIL, stored with offset TAIL - K).
// Within a window row the K pixels are adjacent in the slot, so the read address is
// rowptr + colbase + inner with inner running over K*CF consecutive beats.
//
// Output: reads are issued against credits for a small output queue (as in
// hwflow_mvau), so the read pipeline never stalls, s_axis_tready depends only on
// internal state and m_axis_tdata/tvalid come from registers.
//
// Cycles per image, steady stream, no stalls:
// max(IFM_H*IFM_W, OFM_H*OFM_W*K^2) * CF (plus a few cycles; measured in
// tests/test_rtl_conv_cores.py).
//
// Legal parameters: IFM_CH % SIMD == 0, 1 <= K <= min(IFM_H, IFM_W),
// 1 <= STRIDE <= K.  Others instantiate a module that does not exist, whose name says
// what is wrong.
`default_nettype none

module hwflow_swg #(
  parameter integer IFM_H = 32,
  parameter integer IFM_W = 32,
  parameter integer IFM_CH = 3,
  parameter integer K = 3,
  parameter integer STRIDE = 1,
  parameter integer SIMD = 3,
  parameter integer ELEM_BITS = 8
) (
  input  wire                      ap_clk,
  input  wire                      ap_rst_n,
  input  wire [SIMD*ELEM_BITS-1:0] s_axis_tdata,
  input  wire                      s_axis_tvalid,
  output wire                      s_axis_tready,
  output wire [SIMD*ELEM_BITS-1:0] m_axis_tdata,
  output wire                      m_axis_tvalid,
  input  wire                      m_axis_tready
);
  localparam integer WW    = SIMD * ELEM_BITS;
  localparam integer CF    = IFM_CH / SIMD;
  localparam integer OFM_H = (IFM_H - K) / STRIDE + 1;
  localparam integer OFM_W = (IFM_W - K) / STRIDE + 1;
  localparam integer RW    = IFM_W * CF;               // beats per image row
  localparam integer KCF   = K * CF;                   // beats per window row
  localparam integer TAIL  = IFM_H - (OFM_H - 1) * STRIDE;
  localparam integer NROWS = K + TAIL;                 // 2*K unless trailing rows
  localparam integer DEPTH = NROWS * RW;
  localparam integer OFS   = TAIL - K;                 // 0 .. STRIDE-1
  localparam integer AW    = (DEPTH > 1) ? $clog2(DEPTH) : 1;
  localparam integer RCW   = (RW > 1) ? $clog2(RW) : 1;
  localparam integer IW    = (KCF > 1) ? $clog2(KCF) : 1;
  localparam integer KW    = (K > 1) ? $clog2(K) : 1;
  localparam integer OXW   = (OFM_W > 1) ? $clog2(OFM_W) : 1;
  localparam integer OYW   = (OFM_H > 1) ? $clog2(OFM_H) : 1;
  localparam integer FW    = $clog2(NROWS + OFS + 1);
  // Output queue depth = credits: issue -> read register -> output register -> the
  // credit is back one cycle after the beat leaves, so 3 sustain one beat per cycle.
  localparam integer QD    = 3;
  localparam integer QR    = QD - 1;
  localparam integer CRW   = $clog2(QD + 1);

  generate
    if (IFM_CH % SIMD != 0) begin : g_bad_simd
      hwflow_swg_ILLEGAL_IFM_CH_not_multiple_of_SIMD u_err ();
    end
    if (K > IFM_H || K > IFM_W || K < 1) begin : g_bad_k
      hwflow_swg_ILLEGAL_K_must_be_1_to_min_IFM_H_IFM_W u_err ();
    end
    if (STRIDE < 1 || STRIDE > K) begin : g_bad_stride
      hwflow_swg_ILLEGAL_STRIDE_must_be_1_to_K u_err ();
    end
  endgenerate

  // Sized constants via part-selects of 32-bit localparams (exact lint widths).
  localparam [31:0] DEPTH32 = DEPTH;
  localparam [31:0] RW32    = RW;
  localparam [31:0] RWL32   = RW - 1;
  localparam [31:0] KCFL32  = KCF - 1;
  localparam [31:0] KL32    = K - 1;
  localparam [31:0] OXL32   = OFM_W - 1;
  localparam [31:0] OYL32   = OFM_H - 1;
  localparam [31:0] SCF32   = STRIDE * CF;
  localparam [31:0] SRW32   = STRIDE * RW;
  localparam [31:0] TRW32   = TAIL * RW;
  localparam [31:0] S32     = STRIDE;
  localparam [31:0] T32     = TAIL;
  localparam [31:0] OFS32   = OFS;
  localparam [31:0] WLIM32  = NROWS + OFS;
  localparam [31:0] RLIM32  = K + OFS;
  localparam [31:0] QD32    = QD;
  localparam [AW:0]    DEPTH_C = DEPTH32[AW:0];
  localparam [AW:0]    RW_X    = RW32[AW:0];
  localparam [AW:0]    SRW_X   = SRW32[AW:0];
  localparam [AW:0]    TRW_X   = TRW32[AW:0];
  localparam [AW-1:0]  SCF_C   = SCF32[AW-1:0];
  localparam [AW-1:0]  DL_C    = DEPTH32[AW-1:0] - 1'b1;
  localparam [RCW-1:0] RW_LAST = RWL32[RCW-1:0];
  localparam [IW-1:0]  KCF_LAST = KCFL32[IW-1:0];
  localparam [KW-1:0]  K_LAST  = KL32[KW-1:0];
  localparam [OXW-1:0] OX_LAST = OXL32[OXW-1:0];
  localparam [OYW-1:0] OY_LAST = OYL32[OYW-1:0];
  localparam [FW-1:0]  S_F     = S32[FW-1:0];
  localparam [FW-1:0]  T_F     = T32[FW-1:0];
  localparam [FW-1:0]  OFS_F   = OFS32[FW-1:0];
  localparam [FW-1:0]  WLIM    = WLIM32[FW-1:0];
  localparam [FW-1:0]  RLIM    = RLIM32[FW-1:0];
  localparam [CRW-1:0] QD_C    = QD32[CRW-1:0];

  reg [WW-1:0] mem [0:DEPTH-1];

  // ------------------------------------------------------------------ writer
  reg  [AW-1:0]  wptr;
  reg  [RCW-1:0] wcnt;      // beat within the row being written
  reg  [FW-1:0]  fill;      // complete rows not yet freed, plus OFS

  wire wready   = (fill < WLIM);
  wire in_fire  = s_axis_tvalid && wready;
  wire row_done = in_fire && (wcnt == RW_LAST);

  always @(posedge ap_clk) begin
    if (in_fire) mem[wptr] <= s_axis_tdata;
  end

  // ------------------------------------------------------------------ reader (issue)
  reg  [IW-1:0]  inner;     // kx*CF + c within the window row
  reg  [KW-1:0]  ky;
  reg  [OXW-1:0] ox;
  reg  [OYW-1:0] oy;
  reg  [AW-1:0]  rbase;     // start of the slot of window row 0
  reg  [AW-1:0]  rowptr;    // start of the slot of window row ky
  reg  [AW-1:0]  colbase;   // ox*STRIDE*CF
  reg  [CRW-1:0] credit;
  wire           out_fire;

  wire inner_last = (inner == KCF_LAST);
  wire ky_last    = (ky == K_LAST);
  wire ox_last    = (ox == OX_LAST);
  wire oy_last    = (oy == OY_LAST);
  wire go         = (fill >= RLIM) && (credit != {CRW{1'b0}});
  wire win_end    = go && inner_last && ky_last;        // last beat of a window
  wire row_end    = win_end && ox_last;                 // ... of an output row
  wire [AW-1:0] raddr = rowptr + colbase + {{(AW-IW){1'b0}}, inner};

  // Slot pointer arithmetic modulo DEPTH (every step is < DEPTH).
  wire [AW:0] next_row_s = {1'b0, rowptr} + RW_X;
  wire [AW:0] adv_s      = {1'b0, rbase} + (oy_last ? TRW_X : SRW_X);
  wire [AW:0] next_row   = (next_row_s >= DEPTH_C) ? next_row_s - DEPTH_C : next_row_s;
  wire [AW:0] adv        = (adv_s >= DEPTH_C) ? adv_s - DEPTH_C : adv_s;
  wire [FW-1:0] freed    = row_end ? (oy_last ? T_F : S_F) : {FW{1'b0}};
  wire unused_top = &{1'b0, next_row[AW], adv[AW]};   // always 0 after the wrap

  always @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      wptr    <= {AW{1'b0}};
      wcnt    <= {RCW{1'b0}};
      fill    <= OFS_F;
      inner   <= {IW{1'b0}};
      ky      <= {KW{1'b0}};
      ox      <= {OXW{1'b0}};
      oy      <= {OYW{1'b0}};
      rbase   <= {AW{1'b0}};
      rowptr  <= {AW{1'b0}};
      colbase <= {AW{1'b0}};
      credit  <= QD_C;
    end else begin
      if (in_fire) begin
        wptr <= (wptr == DL_C) ? {AW{1'b0}} : wptr + 1'b1;
        wcnt <= (wcnt == RW_LAST) ? {RCW{1'b0}} : wcnt + 1'b1;
      end
      fill <= fill + {{(FW-1){1'b0}}, row_done} - freed;
      if (go) begin
        inner <= inner_last ? {IW{1'b0}} : inner + 1'b1;
        if (inner_last) begin
          ky <= ky_last ? {KW{1'b0}} : ky + 1'b1;
          if (!ky_last) begin
            rowptr <= next_row[AW-1:0];
          end else if (!ox_last) begin
            ox      <= ox + 1'b1;
            colbase <= colbase + SCF_C;
            rowptr  <= rbase;
          end else begin
            ox      <= {OXW{1'b0}};
            colbase <= {AW{1'b0}};
            oy      <= oy_last ? {OYW{1'b0}} : oy + 1'b1;
            rbase   <= adv[AW-1:0];
            rowptr  <= adv[AW-1:0];
          end
        end
      end
      case ({go, out_fire})
        2'b10:   credit <= credit - 1'b1;
        2'b01:   credit <= credit + 1'b1;
        default: credit <= credit;
      endcase
    end
  end

  // ------------------------------------------------------------------ read + output queue
  reg [WW-1:0] rd;
  reg          v1;
  always @(posedge ap_clk) begin
    if (go) rd <= mem[raddr];
    if (!ap_rst_n) v1 <= 1'b0; else v1 <= go;
  end

  assign s_axis_tready = wready;
  hwflow_outq #(.W(WW), .QR(QR)) outq (
    .ap_clk(ap_clk), .ap_rst_n(ap_rst_n), .wr(v1), .wdata(rd),
    .m_axis_tdata(m_axis_tdata), .m_axis_tvalid(m_axis_tvalid), .m_axis_tready(m_axis_tready));
  assign out_fire = m_axis_tvalid && m_axis_tready;
endmodule

`default_nettype wire
