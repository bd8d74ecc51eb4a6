// hwflow_concat: channel concatenation of two NHWC streams with the same pixel count.
//
// Inputs follow the multi-stream convention: stream i is lane i, data at
// s_axis_tdata[i*SIMD*ELEM_BITS +: SIMD*ELEM_BITS], handshake s_axis_tvalid[i] /
// s_axis_tready[i].  Lane 0 carries pixels of CH0 channels, lane 1 pixels of CH1
// channels, both in beats of SIMD elements of ELEM_BITS bits (channel c in beat c/SIMD at
// bits [(c%SIMD)*ELEM_BITS +: ELEM_BITS]).
// Output: pixels of CH0+CH1 channels, each the CF0 = CH0/SIMD beats of lane 0 followed by
// the CF1 = CH1/SIMD beats of lane 1 (the beats are passed through unchanged).  The
// pattern is the same for every pixel, so the core just counts beats within a pixel and
// repeats forever; PIXELS (per image) is checked but does not change the hardware.
//
// s_axis_tready[i] = !skid_full && (the current beat is lane i's): registered state only
// (never a function of m_axis_tready or of any tvalid).  Output: a registered beat plus
// one skid register (as hwflow_maxpool); m_axis_tdata/tvalid come straight from
// registers.  One beat per cycle, latency 1.
//
// Legal parameters: PIXELS, SIMD, ELEM_BITS >= 1, CH0 and CH1 positive multiples of
// SIMD.  Others instantiate a module that does not exist, whose name says what is wrong.
`default_nettype none

module hwflow_concat #(
  parameter integer PIXELS = 1,
  parameter integer CH0 = 4,
  parameter integer CH1 = 4,
  parameter integer SIMD = 1,
  parameter integer ELEM_BITS = 1
) (
  input  wire                        ap_clk,
  input  wire                        ap_rst_n,
  input  wire [2*SIMD*ELEM_BITS-1:0] s_axis_tdata,
  input  wire [1:0]                  s_axis_tvalid,
  output wire [1:0]                  s_axis_tready,
  output wire [SIMD*ELEM_BITS-1:0]   m_axis_tdata,
  output wire                        m_axis_tvalid,
  input  wire                        m_axis_tready
);
  localparam integer W   = SIMD * ELEM_BITS;
  localparam integer CF0 = CH0 / SIMD;
  localparam integer CFT = (CH0 + CH1) / SIMD;      // beats per output pixel
  localparam integer CW  = (CFT > 1) ? $clog2(CFT) : 1;

  generate
    if (PIXELS < 1 || SIMD < 1 || ELEM_BITS < 1) begin : g_bad_dims
      hwflow_concat_ILLEGAL_PIXELS_SIMD_ELEM_BITS_must_be_at_least_1 u_err ();
    end
    if (CH0 < SIMD || CH1 < SIMD || CH0 % SIMD != 0 || CH1 % SIMD != 0) begin : g_bad_ch
      hwflow_concat_ILLEGAL_CH0_CH1_not_positive_multiples_of_SIMD u_err ();
    end
  endgenerate

  localparam [31:0] LAST32 = CFT - 1;
  localparam [31:0] SW32   = CF0 - 1;               // the last lane-0 beat of a pixel
  localparam [CW-1:0] LAST_C = LAST32[CW-1:0];
  localparam [CW-1:0] SW_C   = SW32[CW-1:0];

  reg  [CW-1:0] cnt;          // beat within the output pixel
  reg           sel;          // 1: the current beat comes from lane 1 (cnt >= CF0)
  reg           sfull, ovalid;
  reg  [W-1:0]  sdata, odata;

  wire [W-1:0]  din     = sel ? s_axis_tdata[W +: W] : s_axis_tdata[0 +: W];
  wire          in_fire = (sel ? s_axis_tvalid[1] : s_axis_tvalid[0]) && !sfull;
  wire          load    = !ovalid || m_axis_tready;

  always @(posedge ap_clk) begin
    if (load) odata <= sfull ? sdata : din;
    if (in_fire && !load) sdata <= din;
  end

  always @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      cnt    <= {CW{1'b0}};
      sel    <= 1'b0;
      sfull  <= 1'b0;
      ovalid <= 1'b0;
    end else begin
      if (in_fire) begin
        if (cnt == LAST_C) begin
          cnt <= {CW{1'b0}};
          sel <= 1'b0;
        end else begin
          cnt <= cnt + 1'b1;
          if (cnt == SW_C) sel <= 1'b1;
        end
      end
      // Skid holds at most one beat; it fills only when the output register is busy.
      if (load) begin
        ovalid <= sfull || in_fire;
        sfull  <= 1'b0;
      end else if (in_fire) begin
        sfull  <= 1'b1;
      end
    end
  end

  assign s_axis_tready = {sel && !sfull, !sel && !sfull};
  assign m_axis_tdata  = odata;
  assign m_axis_tvalid = ovalid;
endmodule

`default_nettype wire
