// hwflow_winpool: streaming reduction (max or sum) of windows, per channel.
//
// Input: a sequence of windows, each KK positions x CF = CH/PE beats of PE elements of
// IN_BITS, beat index within the window pos*CF + cf (channel c of position pos in beat
// pos*CF + c/PE, lane c%PE at bits [(c%PE)*IN_BITS +: IN_BITS]).  A sliding-window
// generator's output with SIMD = PE is exactly this (KK = K*K), and so is a whole NHWC
// image with KK = H*W (global pooling).  The core keeps no count of windows.
// Output: per window CF beats of PE elements of OUT_BITS, element c = the reduction of
// channel c over the KK positions:
//   MODE = 0, max: OUT_BITS = IN_BITS, same encoding; bipolar (IN_BIPOLAR = 1, 1 = +1,
//             0 = -1) is OR; IN_SIGNED compares as two's complement.
//   MODE = 1, sum: the integer sum (bipolar elements count +1/-1), in OUT_BITS-bit two's
//             complement when IN_SIGNED or IN_BIPOLAR, else unsigned; the instantiator
//             chooses OUT_BITS large enough (the sum wraps modulo 2^OUT_BITS).
//
// Accumulator: CF words of PE*OUT_BITS (LUTRAM or flip-flops, asynchronous read).  The
// beat of position 0 overwrites its word, positions 1..KK-2 combine into it, and
// position KK-1 is combined and emitted instead of written back (KK = 1: each beat is
// converted and emitted).  One input beat per cycle: KK*CF cycles per window, windows
// back to back with no bubble.
//
// Output: a registered beat plus one skid register (as hwflow_maxpool);
// s_axis_tready = !skid_full is registered state only.
//
// Legal parameters: KK >= 1; CH % PE == 0; MODE 0 or 1; MODE = 0 needs
// OUT_BITS = IN_BITS; IN_BIPOLAR = 1 needs IN_BITS = 1; MODE = 1 needs
// OUT_BITS >= IN_BITS (>= 2 for bipolar).  Others instantiate a module that does not
// exist, whose name says what is wrong.
`default_nettype none

module hwflow_winpool #(
  parameter integer KK = 9,
  parameter integer CH = 8,
  parameter integer PE = 4,
  parameter integer IN_BITS = 1,
  parameter integer IN_SIGNED = 0,
  parameter integer IN_BIPOLAR = 1,
  parameter integer MODE = 0,         // 0 max, 1 sum
  parameter integer OUT_BITS = 1
) (
  input  wire                    ap_clk,
  input  wire                    ap_rst_n,
  input  wire [PE*IN_BITS-1:0]   s_axis_tdata,
  input  wire                    s_axis_tvalid,
  output wire                    s_axis_tready,
  output wire [PE*OUT_BITS-1:0]  m_axis_tdata,
  output wire                    m_axis_tvalid,
  input  wire                    m_axis_tready
);
  localparam integer OB  = PE * OUT_BITS;        // output (and accumulator) beat width
  localparam integer CF  = CH / PE;
  localparam integer CFW = (CF > 1) ? $clog2(CF) : 1;
  localparam integer KW  = (KK > 1) ? $clog2(KK) : 1;

  generate
    if (KK < 1) begin : g_bad_kk
      hwflow_winpool_ILLEGAL_KK_must_be_at_least_1 u_err ();
    end
    if (CH % PE != 0) begin : g_bad_pe
      hwflow_winpool_ILLEGAL_CH_not_multiple_of_PE u_err ();
    end
    if (MODE != 0 && MODE != 1) begin : g_bad_mode
      hwflow_winpool_ILLEGAL_MODE_must_be_0_max_or_1_sum u_err ();
    end
    if (MODE == 0 && OUT_BITS != IN_BITS) begin : g_bad_max
      hwflow_winpool_ILLEGAL_max_needs_OUT_BITS_equal_IN_BITS u_err ();
    end
    if (IN_BIPOLAR != 0 && IN_BITS != 1) begin : g_bad_bip
      hwflow_winpool_ILLEGAL_IN_BIPOLAR_needs_IN_BITS_1 u_err ();
    end
    if (MODE == 1 && (OUT_BITS < IN_BITS || (IN_BIPOLAR != 0 && OUT_BITS < 2))) begin : g_bad_sum
      hwflow_winpool_ILLEGAL_sum_OUT_BITS_narrower_than_an_element u_err ();
    end
  endgenerate

  localparam [31:0] CF_LAST32 = CF - 1;
  localparam [31:0] K_LAST32  = KK - 1;
  localparam [CFW-1:0] CF_LAST = CF_LAST32[CFW-1:0];
  localparam [KW-1:0]  K_LAST  = K_LAST32[KW-1:0];

  reg [CFW-1:0] cf;
  reg [KW-1:0]  pos;
  reg           sfull, ovalid;
  reg [OB-1:0]  sdata, odata;
  reg [OB-1:0]  acc [0:CF-1];

  wire in_fire = s_axis_tvalid && !sfull;
  wire cf_last = (cf == CF_LAST);
  wire p_first = (pos == {KW{1'b0}});
  wire p_last  = (pos == K_LAST);
  wire [OB-1:0] prev = acc[cf];
  wire [OB-1:0] ext;                 // the input beat as OUT_BITS-bit elements
  wire [OB-1:0] comb;                // element-wise prev (+) ext
  genvar e;
  generate
    for (e = 0; e < PE; e = e + 1) begin : g_e
      wire [IN_BITS-1:0]  x = s_axis_tdata[e*IN_BITS +: IN_BITS];
      wire [OUT_BITS-1:0] a = prev[e*OUT_BITS +: OUT_BITS];
      wire [OUT_BITS-1:0] b = ext[e*OUT_BITS +: OUT_BITS];
      if (MODE == 0) begin : g_max
        // flipping the sign bits makes a signed compare an unsigned one (bipolar: OR)
        localparam [OUT_BITS-1:0] FLIP = (IN_SIGNED != 0 && IN_BIPOLAR == 0)
                                         ? {1'b1, {(OUT_BITS-1){1'b0}}} : {OUT_BITS{1'b0}};
        assign ext[e*OUT_BITS +: OUT_BITS]  = x;
        assign comb[e*OUT_BITS +: OUT_BITS] = ((a ^ FLIP) >= (b ^ FLIP)) ? a : b;
      end else begin : g_sum
        if (IN_BIPOLAR != 0) begin : g_bip
          assign ext[e*OUT_BITS +: OUT_BITS] = {{(OUT_BITS-1){~x[0]}}, 1'b1};
        end else if (OUT_BITS == IN_BITS) begin : g_same
          assign ext[e*OUT_BITS +: OUT_BITS] = x;
        end else if (IN_SIGNED != 0) begin : g_sext
          assign ext[e*OUT_BITS +: OUT_BITS] = {{(OUT_BITS-IN_BITS){x[IN_BITS-1]}}, x};
        end else begin : g_zext
          assign ext[e*OUT_BITS +: OUT_BITS] = {{(OUT_BITS-IN_BITS){1'b0}}, x};
        end
        assign comb[e*OUT_BITS +: OUT_BITS] = a + b;
      end
    end
  endgenerate
  wire [OB-1:0] val  = p_first ? ext : comb;
  wire emit     = in_fire && p_last;
  wire load     = !ovalid || m_axis_tready;

  always @(posedge ap_clk) begin
    if (in_fire && !p_last) acc[cf] <= val;
    if (load) odata <= sfull ? sdata : val;
    if (emit && !load) sdata <= val;
  end

  always @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      cf     <= {CFW{1'b0}};
      pos    <= {KW{1'b0}};
      sfull  <= 1'b0;
      ovalid <= 1'b0;
    end else begin
      if (in_fire) begin
        cf <= cf_last ? {CFW{1'b0}} : cf + 1'b1;
        if (cf_last) pos <= p_last ? {KW{1'b0}} : pos + 1'b1;
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
