// hwflow_thresh: standalone multi-threshold activation (requantization after an add or
// a pooling layer), the same activation function as hwflow_mvau with THRESH = 1.
//
// Input: per pixel CF = CH/PE beats of PE integers of IN_BITS bits (channel c in beat
// c/PE at bits [(c%PE)*IN_BITS +: IN_BITS]), two's complement when IN_SIGNED, else
// unsigned.  The channel-fold counter wraps, so pixels simply follow each other.
// Output: the same layout with OUT_BITS bits per element:
//   out = OUT_BIAS + #{ j in 0..NT-1 : x >= T[c][j] }
// in OUT_BITS-bit two's complement (exactly the MVAU's output encoding; NT = 1,
// OUT_BITS = 1, OUT_BIAS = 0 is the bit x >= T[c]).  Thresholds are TW-bit two's
// complement integers, compared with x exactly (both extended to max(IN_BITS+1, TW) bits).
//
// THRESH_FILE ($readmemh): line cf holds T[cf*PE+p][j] at bits [(p*NT+j)*TW +: TW]
// (the MVAU's thresh.mem layout with cf in place of nf).
//
// The threshold ROM is read synchronously (block RAM or LUTs, RAM_STYLE as the MVAU's
// weight ROM): its output register always holds the thresholds of the channel fold of
// the next input beat (address = the fold after an accepted beat, else the current one;
// 0 in reset), so the compare of an input beat needs no extra cycle.  The compare result
// goes into a registered output beat plus one skid register (as hwflow_maxpool);
// s_axis_tready = !skid_full is registered state only (never a function of
// m_axis_tready).  One beat per cycle, latency 1.
//
// Legal parameters: CH % PE == 0, IN_BITS, TW, NT >= 1, OUT_BITS holds OUT_BIAS ..
// OUT_BIAS+NT (signed when OUT_BIAS < 0).  Others instantiate a module that does not
// exist, whose name says what is wrong.
`default_nettype none

module hwflow_thresh #(
  parameter integer CH = 8,
  parameter integer PE = 1,
  parameter integer IN_BITS = 8,
  parameter integer IN_SIGNED = 1,     // elements in two's complement
  parameter integer NT = 1,
  parameter integer TW = 9,            // threshold width (two's complement)
  parameter integer OUT_BITS = 1,
  parameter integer OUT_BIAS = 0,
  parameter THRESH_FILE = "thresh.mem",
  /* verilator lint_off UNUSEDPARAM */  // only read by the rom_style attribute (synthesis)
  parameter RAM_STYLE = "auto"
  /* verilator lint_on UNUSEDPARAM */
) (
  input  wire                   ap_clk,
  input  wire                   ap_rst_n,
  input  wire [PE*IN_BITS-1:0]  s_axis_tdata,
  input  wire                   s_axis_tvalid,
  output wire                   s_axis_tready,
  output wire [PE*OUT_BITS-1:0] m_axis_tdata,
  output wire                   m_axis_tvalid,
  input  wire                   m_axis_tready
);
  localparam integer CF  = CH / PE;
  localparam integer CFW = (CF > 1) ? $clog2(CF) : 1;
  localparam integer OW  = PE * OUT_BITS;
  localparam integer RW  = PE * NT * TW;                 // one ROM word: a fold's thresholds
  localparam integer CW  = ((IN_BITS + 1 > TW) ? IN_BITS + 1 : TW);   // compare width

  generate
    if (PE < 1 || CH < PE || CH % PE != 0) begin : g_bad_pe
      hwflow_thresh_ILLEGAL_CH_not_multiple_of_PE u_err ();
    end
    if (IN_BITS < 1 || TW < 1) begin : g_bad_w
      hwflow_thresh_ILLEGAL_IN_BITS_TW_must_be_at_least_1 u_err ();
    end
    if (NT < 1 || OUT_BITS < 1 || OUT_BITS > 31 || ((OUT_BIAS < 0)
        ? (OUT_BIAS < -(1 << (OUT_BITS - 1)) || OUT_BIAS + NT > (1 << (OUT_BITS - 1)) - 1)
        : (OUT_BIAS + NT > (1 << OUT_BITS) - 1))) begin : g_bad_act
      hwflow_thresh_ILLEGAL_OUT_BITS_cannot_hold_NT_levels u_err ();
    end
  endgenerate

  localparam [31:0] CF_LAST32 = CF - 1;
  localparam [31:0] BIAS32    = OUT_BIAS;
  localparam [CFW-1:0] CF_LAST = CF_LAST32[CFW-1:0];

  reg           sfull, ovalid;
  reg  [OW-1:0] sdata, odata;
  reg  [CFW-1:0] cf;

  wire in_fire = s_axis_tvalid && !sfull;
  wire load    = !ovalid || m_axis_tready;
  wire [CFW-1:0] cf_nx = !in_fire ? cf : (cf == CF_LAST) ? {CFW{1'b0}} : cf + 1'b1;

  // ------------------------------------------------------------------ threshold ROM
  (* rom_style = RAM_STYLE *) reg [RW-1:0] trom [0:CF-1];
  initial $readmemh(THRESH_FILE, trom);
  reg  [RW-1:0] tcur;                                    // thresholds of fold cf
  wire [CFW-1:0] raddr = ap_rst_n ? cf_nx : {CFW{1'b0}};
  always @(posedge ap_clk) tcur <= trom[raddr];

  // ------------------------------------------------------------------ compare
  wire [OW-1:0] res;
  genvar p, j;
  generate
    for (p = 0; p < PE; p = p + 1) begin : g_pe
      wire [IN_BITS-1:0] xv = s_axis_tdata[p*IN_BITS +: IN_BITS];
      wire [CW-1:0] x = {{(CW-IN_BITS){(IN_SIGNED != 0) ? xv[IN_BITS-1] : 1'b0}}, xv};
      wire [NT-1:0] ge;
      for (j = 0; j < NT; j = j + 1) begin : g_t
        wire [TW-1:0] tv = tcur[(p*NT + j)*TW +: TW];
        wire [CW-1:0] t;
        if (CW > TW) begin : g_sx
          assign t = {{(CW-TW){tv[TW-1]}}, tv};
        end else begin : g_eq
          assign t = tv;
        end
        // signed compare as unsigned with the sign bits flipped
        assign ge[j] = ({~x[CW-1], x[CW-2:0]} >= {~t[CW-1], t[CW-2:0]});
      end
      if (NT == 1 && OUT_BITS == 1 && OUT_BIAS == 0) begin : g_bit
        assign res[p*OUT_BITS] = ge[0];
      end else begin : g_levels
        reg [OUT_BITS-1:0] cnt;
        integer i;
        always @* begin
          cnt = BIAS32[OUT_BITS-1:0];
          for (i = 0; i < NT; i = i + 1) cnt = cnt + {{(OUT_BITS-1){1'b0}}, ge[i]};
        end
        assign res[p*OUT_BITS +: OUT_BITS] = cnt;
      end
    end
  endgenerate

  always @(posedge ap_clk) begin
    if (load) odata <= sfull ? sdata : res;
    if (in_fire && !load) sdata <= res;
  end

  always @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      cf     <= {CFW{1'b0}};
      sfull  <= 1'b0;
      ovalid <= 1'b0;
    end else begin
      cf <= cf_nx;
      // Skid holds at most one beat; it fills only when the output register is busy.
      if (load) begin
        ovalid <= sfull || in_fire;
        sfull  <= 1'b0;
      end else if (in_fire) begin
        sfull  <= 1'b1;
      end
    end
  end

  assign s_axis_tready = !sfull;
  assign m_axis_tdata  = odata;
  assign m_axis_tvalid = ovalid;
endmodule

`default_nettype wire
