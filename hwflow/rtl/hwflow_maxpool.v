// hwflow_maxpool: streaming POOL x POOL max-pool (stride POOL, no padding) of ELEM_BITS-bit
// values: 1-bit values (1 = +1, so max is OR), or k-bit integers (two's complement when
// SIGNED).
//
// Stream: NHWC, an image is IFM_H x IFM_W pixels (rows x columns) in row-major order,
// each pixel CH elements in CF = CH/PE beats of PE elements (channel c in beat c/PE,
// element c%PE at bits [(c%PE)*ELEM_BITS +: ELEM_BITS]).  Output is the OFM_H x OFM_W
// pooled image in the same format, OFM_H = IFM_H/POOL, OFM_W = IFM_W/POOL (floor:
// trailing rows and columns are read and dropped, as ONNX ceil_mode=0).
//
// A row accumulator of OFM_W*CF words of PE elements holds the max of the pooling
// windows of the current output row: the first beat of a window (window row 0,
// column 0) overwrites its word, later beats max into it, and the last one (window
// row POOL-1, column POOL-1) is emitted instead of written back.  Read-modify-write
// in one cycle needs an asynchronous read (small: LUTRAM or flip-flops), so one input
// beat is consumed every cycle: IFM_H * IFM_W * CF cycles per image.
//
// Output: a registered beat plus one skid register; s_axis_tready = !skid_full is
// registered state only (never a function of m_axis_tready).
//
// Legal parameters: CH % PE == 0, 1 <= POOL <= min(IFM_H, IFM_W).  Others instantiate
// a module that does not exist, whose name says what is wrong.
`default_nettype none

module hwflow_maxpool #(
  parameter integer IFM_H = 28,
  parameter integer IFM_W = 28,
  parameter integer CH = 64,
  parameter integer POOL = 2,
  parameter integer PE = 8,
  parameter integer ELEM_BITS = 1,
  parameter integer SIGNED = 0       // k-bit elements in two's complement (ELEM_BITS > 1)
) (
  input  wire                    ap_clk,
  input  wire                    ap_rst_n,
  input  wire [PE*ELEM_BITS-1:0] s_axis_tdata,
  input  wire                    s_axis_tvalid,
  output wire                    s_axis_tready,
  output wire [PE*ELEM_BITS-1:0] m_axis_tdata,
  output wire                    m_axis_tvalid,
  input  wire                    m_axis_tready
);
  localparam integer BW     = PE * ELEM_BITS;    // beat width
  localparam integer CF     = CH / PE;
  localparam integer OFM_H  = IFM_H / POOL;
  localparam integer OFM_W  = IFM_W / POOL;
  localparam integer KEEP_H = OFM_H * POOL;      // rows that belong to a window
  localparam integer KEEP_W = OFM_W * POOL;      // columns that belong to a window
  localparam integer NA     = OFM_W * CF;        // accumulator words
  localparam integer CFW    = (CF > 1) ? $clog2(CF) : 1;
  localparam integer XW     = (IFM_W > 1) ? $clog2(IFM_W) : 1;
  localparam integer YW     = (IFM_H > 1) ? $clog2(IFM_H) : 1;
  localparam integer PW     = (POOL > 1) ? $clog2(POOL) : 1;
  localparam integer AW     = (NA > 1) ? $clog2(NA) : 1;

  generate
    if (CH % PE != 0) begin : g_bad_pe
      hwflow_maxpool_ILLEGAL_CH_not_multiple_of_PE u_err ();
    end
    if (POOL < 1 || POOL > IFM_H || POOL > IFM_W) begin : g_bad_pool
      hwflow_maxpool_ILLEGAL_POOL_must_be_1_to_min_IFM_H_IFM_W u_err ();
    end
  endgenerate

  localparam [31:0] CF_LAST32 = CF - 1;
  localparam [31:0] X_LAST32  = IFM_W - 1;
  localparam [31:0] Y_LAST32  = IFM_H - 1;
  localparam [31:0] P_LAST32  = POOL - 1;
  localparam [31:0] KEEPW32   = KEEP_W;
  localparam [31:0] KEEPH32   = KEEP_H;
  localparam [31:0] CF32      = CF;
  localparam [CFW-1:0] CF_LAST = CF_LAST32[CFW-1:0];
  localparam [XW-1:0]  X_LAST  = X_LAST32[XW-1:0];
  localparam [YW-1:0]  Y_LAST  = Y_LAST32[YW-1:0];
  localparam [PW-1:0]  P_LAST  = P_LAST32[PW-1:0];
  localparam [XW:0]    KEEPW_C = KEEPW32[XW:0];
  localparam [YW:0]    KEEPH_C = KEEPH32[YW:0];
  localparam [AW-1:0]  CF_C    = CF32[AW-1:0];

  reg [CFW-1:0] cf;
  reg [XW-1:0]  x;
  reg [YW-1:0]  y;
  reg [PW-1:0]  px, py;      // position inside the pooling window
  reg [AW-1:0]  base;        // min(x / POOL, OFM_W - 1) * CF
  reg           sfull, ovalid;
  reg [BW-1:0]  sdata, odata;

  reg [BW-1:0] acc [0:NA-1];

  wire in_fire  = s_axis_tvalid && !sfull;
  wire cf_last  = (cf == CF_LAST);
  wire x_last   = (x == X_LAST);
  wire y_last   = (y == Y_LAST);
  wire keep     = ({1'b0, x} < KEEPW_C) && ({1'b0, y} < KEEPH_C);
  wire w_first  = (px == {PW{1'b0}}) && (py == {PW{1'b0}});
  wire w_last   = (px == P_LAST) && (py == P_LAST);
  wire [AW-1:0] addr = base + {{(AW-CFW){1'b0}}, cf};
  wire [BW-1:0] prev = acc[addr];
  wire [BW-1:0] mx;                              // element-wise max of prev and the input
  genvar e;
  generate
    if (ELEM_BITS == 1 && SIGNED == 0) begin : g_or
      assign mx = prev | s_axis_tdata;
    end else begin : g_max
      // flipping the sign bits makes a signed compare an unsigned one
      localparam [ELEM_BITS-1:0] FLIP = (SIGNED != 0) ? {1'b1, {(ELEM_BITS-1){1'b0}}} : {ELEM_BITS{1'b0}};
      for (e = 0; e < PE; e = e + 1) begin : g_e
        wire [ELEM_BITS-1:0] a = prev[e*ELEM_BITS +: ELEM_BITS];
        wire [ELEM_BITS-1:0] b = s_axis_tdata[e*ELEM_BITS +: ELEM_BITS];
        assign mx[e*ELEM_BITS +: ELEM_BITS] = ((a ^ FLIP) >= (b ^ FLIP)) ? a : b;
      end
    end
  endgenerate
  wire [BW-1:0] val  = w_first ? s_axis_tdata : mx;
  wire emit     = in_fire && keep && w_last;
  wire load     = !ovalid || m_axis_tready;

  always @(posedge ap_clk) begin
    if (in_fire && keep && !w_last) acc[addr] <= val;
    if (load) odata <= sfull ? sdata : val;
    if (emit && !load) sdata <= val;
  end

  always @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      cf     <= {CFW{1'b0}};
      x      <= {XW{1'b0}};
      y      <= {YW{1'b0}};
      px     <= {PW{1'b0}};
      py     <= {PW{1'b0}};
      base   <= {AW{1'b0}};
      sfull  <= 1'b0;
      ovalid <= 1'b0;
    end else begin
      if (in_fire) begin
        cf <= cf_last ? {CFW{1'b0}} : cf + 1'b1;
        if (cf_last) begin
          if (x_last) begin
            x    <= {XW{1'b0}};
            px   <= {PW{1'b0}};
            base <= {AW{1'b0}};
            y    <= y_last ? {YW{1'b0}} : y + 1'b1;
            py   <= (py == P_LAST || y_last) ? {PW{1'b0}} : py + 1'b1;
          end else begin
            x  <= x + 1'b1;
            px <= (px == P_LAST) ? {PW{1'b0}} : px + 1'b1;
            // base stops at the last window (dropped columns never touch acc).
            if (px == P_LAST && ({1'b0, x} + 1'b1) < KEEPW_C) base <= base + CF_C;
          end
        end
      end
      // Skid holds at most one beat; it fills only when the output register is busy.
      if (load) begin
        ovalid <= sfull || emit;
        sfull  <= 1'b0;
      end else if (emit) begin
        sfull  <= 1'b1;
      end
    end
  end

  assign s_axis_tready = !sfull;
  assign m_axis_tdata  = odata;
  assign m_axis_tvalid = ovalid;
endmodule

`default_nettype wire
