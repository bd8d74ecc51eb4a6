// hwflow_pad: streaming zero/constant padding of an NHWC image, optionally converting
// bipolar 1-bit elements to OUT_BITS-bit two's complement integers.
//
// Input: IFM_H x IFM_W pixels in row-major order, each pixel CH elements of IN_BITS in
// CF = CH/SIMD beats of SIMD elements (channel c in beat c/SIMD, lane c%SIMD at bits
// [(c%SIMD)*IN_BITS +: IN_BITS]).
// Output: (PAD_T+IFM_H+PAD_B) x (PAD_L+IFM_W+PAD_R) pixels, same order and folding,
// OUT_BITS-bit elements.  Border pixels: every element is PAD_VALUE (an OUT_BITS-bit
// pattern, 0 <= PAD_VALUE < 2^OUT_BITS).  Interior pixels: the input pixel, each element
// copied (IN_BIPOLAR = 0, OUT_BITS = IN_BITS) or, for IN_BIPOLAR = 1 (IN_BITS = 1,
// OUT_BITS >= 2), bit 1 -> +1 and bit 0 -> -1 in OUT_BITS-bit two's complement.
//
// The core walks the output image (row oy, column ox, channel group cf); at an
// interior position it takes one input beat, at a border position it makes a pad beat.
// Row and column "interior" flags are registers updated with the counters, so any pad
// may be 0 (all four too: a pure copy / conversion).  An image starts only once its
// first input beat is offered (s_axis_tvalid, not consumed before the first interior
// position), so the core never emits the border of an image that has not arrived (a
// finished batch leaves no stray beats).  One output beat per cycle while the consumer
// is ready and the next image's first beat is waiting:
// (PAD_T+IFM_H+PAD_B)*(PAD_L+IFM_W+PAD_R)*CF cycles per image.
//
// Output: a registered beat plus one skid register (as hwflow_maxpool);
// s_axis_tready = interior && !skid_full depends on registered state only.
//
// Legal parameters: CH % SIMD == 0; pads >= 0; IN_BIPOLAR = 1 needs IN_BITS = 1 and
// OUT_BITS >= 2, IN_BIPOLAR = 0 needs OUT_BITS = IN_BITS; 0 <= PAD_VALUE < 2^OUT_BITS.
// Others instantiate a module that does not exist, whose name says what is wrong.
`default_nettype none

module hwflow_pad #(
  parameter integer IFM_H = 8,
  parameter integer IFM_W = 8,
  parameter integer CH = 4,
  parameter integer SIMD = 2,
  parameter integer PAD_T = 1,
  parameter integer PAD_L = 1,
  parameter integer PAD_B = 1,
  parameter integer PAD_R = 1,
  parameter integer IN_BITS = 1,
  parameter integer OUT_BITS = 2,
  parameter integer IN_BIPOLAR = 1,
  parameter integer PAD_VALUE = 0
) (
  input  wire                     ap_clk,
  input  wire                     ap_rst_n,
  input  wire [SIMD*IN_BITS-1:0]  s_axis_tdata,
  input  wire                     s_axis_tvalid,
  output wire                     s_axis_tready,
  output wire [SIMD*OUT_BITS-1:0] m_axis_tdata,
  output wire                     m_axis_tvalid,
  input  wire                     m_axis_tready
);
  localparam integer OB   = SIMD * OUT_BITS;       // output beat width
  localparam integer CF   = CH / SIMD;
  localparam integer OH   = PAD_T + IFM_H + PAD_B;
  localparam integer OWD  = PAD_L + IFM_W + PAD_R;
  localparam integer CFW  = (CF > 1) ? $clog2(CF) : 1;
  localparam integer XW   = (OWD > 1) ? $clog2(OWD) : 1;
  localparam integer YW   = (OH > 1) ? $clog2(OH) : 1;

  generate
    if (CH % SIMD != 0) begin : g_bad_simd
      hwflow_pad_ILLEGAL_CH_not_multiple_of_SIMD u_err ();
    end
    if (PAD_T < 0 || PAD_L < 0 || PAD_B < 0 || PAD_R < 0) begin : g_bad_pad
      hwflow_pad_ILLEGAL_negative_pad u_err ();
    end
    if (IN_BIPOLAR != 0 && (IN_BITS != 1 || OUT_BITS < 2)) begin : g_bad_bip
      hwflow_pad_ILLEGAL_IN_BIPOLAR_needs_IN_BITS_1_and_OUT_BITS_2_or_more u_err ();
    end
    if (IN_BIPOLAR == 0 && OUT_BITS != IN_BITS) begin : g_bad_bits
      hwflow_pad_ILLEGAL_OUT_BITS_must_equal_IN_BITS u_err ();
    end
    if (PAD_VALUE < 0 || (OUT_BITS < 31 && PAD_VALUE >= (1 << OUT_BITS))) begin : g_bad_value
      hwflow_pad_ILLEGAL_PAD_VALUE_does_not_fit_OUT_BITS u_err ();
    end
  endgenerate

  // Sized constants via part-selects of 32-bit localparams (exact lint widths).
  localparam [31:0] CF_LAST32 = CF - 1;
  localparam [31:0] X_LAST32  = OWD - 1;
  localparam [31:0] Y_LAST32  = OH - 1;
  localparam [31:0] L_END32   = (PAD_L > 0) ? PAD_L - 1 : 0;   // last left-pad column
  localparam [31:0] XI_END32  = PAD_L + IFM_W - 1;             // last interior column
  localparam [31:0] T_END32   = (PAD_T > 0) ? PAD_T - 1 : 0;   // last top-pad row
  localparam [31:0] YI_END32  = PAD_T + IFM_H - 1;             // last interior row
  localparam [CFW-1:0] CF_LAST = CF_LAST32[CFW-1:0];
  localparam [XW-1:0]  X_LAST  = X_LAST32[XW-1:0];
  localparam [YW-1:0]  Y_LAST  = Y_LAST32[YW-1:0];
  localparam [XW-1:0]  L_END   = L_END32[XW-1:0];
  localparam [XW-1:0]  XI_END  = XI_END32[XW-1:0];
  localparam [YW-1:0]  T_END   = T_END32[YW-1:0];
  localparam [YW-1:0]  YI_END  = YI_END32[YW-1:0];
  localparam           HAS_L   = (PAD_L > 0);
  localparam           HAS_T   = (PAD_T > 0);
  localparam           COL0_IN = (PAD_L == 0);   // column 0 is interior
  localparam           ROW0_IN = (PAD_T == 0);   // row 0 is interior

  // One output element of the border, and the border beat.
  localparam [31:0] PV32 = PAD_VALUE;
  wire [OUT_BITS-1:0] pv;
  generate
    if (OUT_BITS <= 32) begin : g_pv
      assign pv = PV32[OUT_BITS-1:0];
    end else begin : g_pv_wide
      assign pv = {{(OUT_BITS-32){1'b0}}, PV32};
    end
  endgenerate
  wire [OB-1:0] pad_beat = {SIMD{pv}};

  // Interior beat: copy or bipolar -> +1/-1.
  wire [OB-1:0] conv;
  genvar e;
  generate
    if (IN_BIPOLAR != 0) begin : g_bip
      for (e = 0; e < SIMD; e = e + 1) begin : g_e
        wire b = s_axis_tdata[e*IN_BITS];
        assign conv[e*OUT_BITS +: OUT_BITS] = {{(OUT_BITS-1){~b}}, 1'b1};
      end
    end else begin : g_copy
      assign conv = s_axis_tdata[OB-1:0];
    end
  endgenerate

  reg [CFW-1:0] cf;
  reg [XW-1:0]  ox;
  reg [YW-1:0]  oy;
  reg           cin, rin;        // column ox / row oy is interior
  reg           first;           // at the first beat of an image
  reg           sfull, ovalid;
  reg [OB-1:0]  sdata, odata;

  wire interior = cin && rin;
  // one output beat made (an interior one takes the input beat)
  wire step     = !sfull && ((!interior && !first) || s_axis_tvalid);
  wire cf_last  = (cf == CF_LAST);
  wire x_last   = (ox == X_LAST);
  wire y_last   = (oy == Y_LAST);
  wire [OB-1:0] val = interior ? conv : pad_beat;
  wire load     = !ovalid || m_axis_tready;

  always @(posedge ap_clk) begin
    if (load) odata <= sfull ? sdata : val;
    if (step && !load) sdata <= val;
  end

  always @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      cf     <= {CFW{1'b0}};
      ox     <= {XW{1'b0}};
      oy     <= {YW{1'b0}};
      cin    <= COL0_IN;
      rin    <= ROW0_IN;
      first  <= 1'b1;
      sfull  <= 1'b0;
      ovalid <= 1'b0;
    end else begin
      if (step) begin
        first <= cf_last && x_last && y_last;
        cf <= cf_last ? {CFW{1'b0}} : cf + 1'b1;
        if (cf_last) begin
          if (x_last) begin
            ox  <= {XW{1'b0}};
            cin <= COL0_IN;
            oy  <= y_last ? {YW{1'b0}} : oy + 1'b1;
            if (y_last)                   rin <= ROW0_IN;
            else if (HAS_T && oy == T_END) rin <= 1'b1;
            else if (oy == YI_END)        rin <= 1'b0;
          end else begin
            ox <= ox + 1'b1;
            if (HAS_L && ox == L_END) cin <= 1'b1;
            else if (ox == XI_END)    cin <= 1'b0;
          end
        end
      end
      // Skid holds at most one beat; it fills only when the output register is busy.
      if (load) begin
        ovalid <= sfull || step;
        sfull  <= 1'b0;
      end else if (step) begin
        sfull  <= 1'b1;
      end
    end
  end

  assign s_axis_tready = interior && !sfull;
  assign m_axis_tdata  = odata;
  assign m_axis_tvalid = ovalid;
endmodule

`default_nettype wire
