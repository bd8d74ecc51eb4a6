// hwflow_axis_dma: the network's two streams as AXI DMA sees them.
//
// - Widths: the network's input (IN_W bits) arrives in the low bits of an IN_WP-bit beat
//   (padding bits and TKEEP are ignored); its output (OUT_W bits) leaves zero-padded to
//   OUT_WP bits, with TKEEP all ones.  AXI DMA takes 8, 16, ..., 1024-bit streams only.
// - TLAST: the DMA's S2MM channel ends a transfer at TLAST.  Every input transfer (ended
//   by s_axis_tlast) carries whole images, IN_BEATS beats each; the output transfer of
//   the same images ends with m_axis_tlast on the last of their OUT_BEATS-beat outputs.
//   The core counts beats: when an image's last input beat is accepted, one flag goes
//   into a queue, set if that image ends a transfer; the last output beat of each image
//   takes the next flag as its TLAST.  (A TLAST in the middle of an image ends the
//   transfer after that image.)
// - Ordering: a network may emit an image's last output beat before it has taken that
//   image's last input beat (rows that no window reads, e.g. a stride that skips the
//   last row).  That beat's TLAST is not known yet, so it waits (m_axis_tvalid low) for
//   its flag; the network still takes the rest of the image meanwhile.
// - Backpressure: when the queue holds 2**DEPTH_LOG2 flags (images input but not yet
//   output), an image's last input beat waits for a free entry.
//
// Data and handshakes pass straight through (no registers, no latency).  s_axis_tready
// depends on s_axis_tvalid/s_axis_tlast only through registered state; m_axis_tvalid
// never depends on m_axis_tready.
//
// Legal parameters: IN_W, OUT_W >= 1; IN_WP >= IN_W and OUT_WP >= OUT_W, both multiples
// of 8; IN_BEATS, OUT_BEATS >= 1; DEPTH_LOG2 >= 1.  Others instantiate a module that does
// not exist, whose name says what is wrong.
`default_nettype none

module hwflow_axis_dma #(
  parameter integer IN_W       = 8,
  parameter integer IN_WP      = 8,
  parameter integer OUT_W      = 8,
  parameter integer OUT_WP     = 8,
  parameter integer IN_BEATS   = 1,
  parameter integer OUT_BEATS  = 1,
  parameter integer DEPTH_LOG2 = 6
) (
  input  wire                ap_clk,
  input  wire                ap_rst_n,
  // from the DMA's MM2S channel
  /* verilator lint_off UNUSEDSIGNAL */  // padding bits and TKEEP are ignored by design
  input  wire [IN_WP-1:0]    s_axis_tdata,
  input  wire [IN_WP/8-1:0]  s_axis_tkeep,
  /* verilator lint_on UNUSEDSIGNAL */
  input  wire                s_axis_tvalid,
  output wire                s_axis_tready,
  input  wire                s_axis_tlast,
  // to and from the network
  output wire [IN_W-1:0]     net_in_tdata,
  output wire                net_in_tvalid,
  input  wire                net_in_tready,
  input  wire [OUT_W-1:0]    net_out_tdata,
  input  wire                net_out_tvalid,
  output wire                net_out_tready,
  // to the DMA's S2MM channel
  output wire [OUT_WP-1:0]   m_axis_tdata,
  output wire [OUT_WP/8-1:0] m_axis_tkeep,
  output wire                m_axis_tvalid,
  input  wire                m_axis_tready,
  output wire                m_axis_tlast
);
  generate
    if (IN_W < 1 || IN_WP < IN_W || IN_WP % 8 != 0) begin : g_bad_in
      hwflow_axis_dma_ILLEGAL_IN_WP_must_be_a_multiple_of_8_at_least_IN_W u_err ();
    end
    if (OUT_W < 1 || OUT_WP < OUT_W || OUT_WP % 8 != 0) begin : g_bad_out
      hwflow_axis_dma_ILLEGAL_OUT_WP_must_be_a_multiple_of_8_at_least_OUT_W u_err ();
    end
    if (IN_BEATS < 1 || OUT_BEATS < 1) begin : g_bad_beats
      hwflow_axis_dma_ILLEGAL_BEATS_must_be_at_least_1 u_err ();
    end
    if (DEPTH_LOG2 < 1) begin : g_bad_depth
      hwflow_axis_dma_ILLEGAL_DEPTH_LOG2_must_be_at_least_1 u_err ();
    end
  endgenerate

  localparam integer IBW = IN_BEATS > 1 ? $clog2(IN_BEATS) : 1;
  localparam integer OBW = OUT_BEATS > 1 ? $clog2(OUT_BEATS) : 1;
  localparam [31:0] IN_LAST32 = IN_BEATS - 1;
  localparam [31:0] OUT_LAST32 = OUT_BEATS - 1;
  localparam [IBW-1:0] IN_LAST = IN_LAST32[IBW-1:0];
  localparam [OBW-1:0] OUT_LAST = OUT_LAST32[OBW-1:0];
  localparam integer DEPTH = 1 << DEPTH_LOG2;

  // ---- the queue of "this image ends a transfer" flags
  reg  [DEPTH-1:0]      ends;
  reg  [DEPTH_LOG2-1:0] wr, rd;
  reg  [DEPTH_LOG2:0]   count;
  wire q_full  = count[DEPTH_LOG2];
  wire q_empty = count == 0;

  // ---- input side
  reg  [IBW-1:0] in_beat;
  reg            pend;      // a TLAST came earlier in this image
  wire in_img_last = in_beat == IN_LAST;
  wire in_hold = in_img_last && q_full;
  assign net_in_tdata  = s_axis_tdata[IN_W-1:0];
  assign net_in_tvalid = s_axis_tvalid && !in_hold;
  assign s_axis_tready = net_in_tready && !in_hold;
  wire in_fire = s_axis_tvalid && s_axis_tready;
  wire push = in_fire && in_img_last;

  // ---- output side
  reg  [OBW-1:0] out_beat;
  wire out_img_last = out_beat == OUT_LAST;
  wire out_hold = out_img_last && q_empty;
  assign m_axis_tvalid  = net_out_tvalid && !out_hold;
  assign net_out_tready = m_axis_tready && !out_hold;
  assign m_axis_tlast   = out_img_last && !q_empty && ends[rd];
  assign m_axis_tkeep   = {(OUT_WP/8){1'b1}};
  generate
    if (OUT_WP > OUT_W) begin : g_pad
      assign m_axis_tdata = {{(OUT_WP - OUT_W){1'b0}}, net_out_tdata};
    end else begin : g_nopad
      assign m_axis_tdata = net_out_tdata;
    end
  endgenerate
  wire out_fire = m_axis_tvalid && m_axis_tready;
  wire pop = out_fire && out_img_last;

  always @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      in_beat <= 0; pend <= 1'b0; out_beat <= 0;
      wr <= 0; rd <= 0; count <= 0;
    end else begin
      if (in_fire) begin
        in_beat <= in_img_last ? {IBW{1'b0}} : in_beat + 1'b1;
        pend <= !in_img_last && (pend || s_axis_tlast);
      end
      if (push) begin
        ends[wr] <= pend || s_axis_tlast;
        wr <= wr + 1'b1;
      end
      if (out_fire) out_beat <= out_img_last ? {OBW{1'b0}} : out_beat + 1'b1;
      if (pop) rd <= rd + 1'b1;
      if (push != pop) count <= push ? count + 1'b1 : count - 1'b1;
    end
  end
endmodule

`default_nettype wire
