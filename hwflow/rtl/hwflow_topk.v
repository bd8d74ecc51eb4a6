// hwflow_topk: top-K label select, the RTL twin of the HLS kernel top_k
// (hwflow/hls/hwflow_labelselect.h): per vector of N integers, the indices of its K
// largest, largest first; equal values keep index order (ONNX TopK, which numpy's stable
// argsort of the negated values reproduces).  K = 1 is hwflow_labelselect's job.
//
// Input: one element of IN_BITS bits per beat, N beats per vector; two's complement when
// IN_SIGNED, else unsigned.  (A wider producer reaches it through a width converter.)
// Output: K beats of IDX_BITS bits per vector, the indices (unsigned).
//
// A sorted list of K (value, index) registers takes one element per cycle: slot j holds
// the new element if it beats slot j and not slot j-1, slot j-1's entry if it beats both,
// and keeps its own otherwise.  "Beats" is a strict >, so a later equal value goes after
// the earlier ones.  The first element of a vector sees an empty list.  On the vector's
// last element the updated list's indices move to an output shift register, which emits
// its K beats while the next vector streams in.
//
// Flow control: s_axis_tready = !(next element is a vector's last && output register not
// empty), registered state only (never a function of m_axis_tready); m_axis_tdata/tvalid
// come straight from registers.
//
// Cycles per vector, steady stream, no stalls: N while K < N (one more when K = N: the
// output register drains one cycle after the next vector's last element arrives);
// latency from the last input beat to the first output beat: 1 cycle.
//
// Legal parameters: N >= 2, 2 <= K <= N, IN_BITS >= 1, IDX_BITS >= clog2(N).  Others
// instantiate a module that does not exist, whose name says what is wrong.
`default_nettype none

module hwflow_topk #(
  parameter integer N = 10,
  parameter integer K = 3,
  parameter integer IN_BITS = 16,
  parameter integer IN_SIGNED = 1,
  parameter integer IDX_BITS = 4
) (
  input  wire                ap_clk,
  input  wire                ap_rst_n,
  input  wire [IN_BITS-1:0]  s_axis_tdata,
  input  wire                s_axis_tvalid,
  output wire                s_axis_tready,
  output wire [IDX_BITS-1:0] m_axis_tdata,
  output wire                m_axis_tvalid,
  input  wire                m_axis_tready
);
  localparam integer XW = IDX_BITS;
  localparam integer CW = (K > 1) ? $clog2(K + 1) : 1;   // output beats left

  generate
    if (N < 2 || K < 2 || K > N || IN_BITS < 1) begin : g_bad_dims
      hwflow_topk_ILLEGAL_need_N_at_least_2_and_K_in_2_to_N u_err ();
    end
    if (IDX_BITS < 1 || $clog2(N) > IDX_BITS) begin : g_bad_idx
      hwflow_topk_ILLEGAL_IDX_BITS_below_clog2_N u_err ();
    end
  endgenerate

  // Flipping the sign bit makes a two's complement compare an unsigned one.
  localparam [IN_BITS-1:0] FLIP = (IN_SIGNED != 0) ? {1'b1, {(IN_BITS-1){1'b0}}} : {IN_BITS{1'b0}};
  localparam [31:0] LAST32 = N - 1;
  localparam [31:0] K32 = K;
  localparam [XW-1:0] LAST_C = LAST32[XW-1:0];
  localparam [CW-1:0] K_C = K32[CW-1:0];

  reg  [XW-1:0]      cnt;                 // index of the next input element
  reg  [IN_BITS-1:0] val [0:K-1];         // sorted list, flipped values
  reg  [XW-1:0]      idx [0:K-1];
  reg  [K-1:0]       vld;
  reg  [XW-1:0]      obuf [0:K-1];        // indices being emitted, obuf[0] on the bus
  reg  [CW-1:0]      ocnt;

  wire [IN_BITS-1:0] v     = s_axis_tdata ^ FLIP;
  wire               first = (cnt == {XW{1'b0}});
  wire               last  = (cnt == LAST_C);
  wire               busy  = (ocnt != {CW{1'b0}});
  wire               in_fire  = s_axis_tvalid && !(last && busy);
  wire               out_fire = busy && m_axis_tready;

  // beats[j]: the new element goes at or above slot j (monotone in j)
  wire [K-1:0] beats;
  wire [IN_BITS-1:0] nval [0:K-1];
  wire [XW-1:0]      nidx [0:K-1];
  genvar j;
  generate
    for (j = 0; j < K; j = j + 1) begin : g_slot
      wire live = vld[j] && !first;
      assign beats[j] = !live || (v > val[j]);
      if (j == 0) begin : g_top
        assign nval[j] = beats[j] ? v : val[j];
        assign nidx[j] = beats[j] ? cnt : idx[j];
      end else begin : g_rest
        assign nval[j] = !beats[j] ? val[j] : (beats[j-1] ? val[j-1] : v);
        assign nidx[j] = !beats[j] ? idx[j] : (beats[j-1] ? idx[j-1] : cnt);
      end
    end
  endgenerate

  integer i;
  always @(posedge ap_clk) begin
    if (in_fire) begin
      for (i = 0; i < K; i = i + 1) begin
        val[i] <= nval[i];
        idx[i] <= nidx[i];
      end
    end
    if (in_fire && last) begin
      for (i = 0; i < K; i = i + 1) obuf[i] <= nidx[i];
    end else if (out_fire) begin
      for (i = 0; i < K - 1; i = i + 1) obuf[i] <= obuf[i + 1];
    end
  end

  always @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      cnt  <= {XW{1'b0}};
      vld  <= {K{1'b0}};
      ocnt <= {CW{1'b0}};
    end else begin
      if (in_fire) begin
        cnt <= last ? {XW{1'b0}} : cnt + 1'b1;
        // a slot is filled once the new element or a filled entry lands in it
        vld <= first ? {{(K-1){1'b0}}, 1'b1} : {vld[K-2:0], 1'b1};
      end
      if (in_fire && last) ocnt <= K_C;
      else if (out_fire) ocnt <= ocnt - 1'b1;
    end
  end

  assign s_axis_tready = !(last && busy);
  assign m_axis_tdata  = obuf[0];
  assign m_axis_tvalid = busy;
endmodule

`default_nettype wire
