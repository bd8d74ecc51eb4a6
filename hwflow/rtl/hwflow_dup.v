// hwflow_dup: AXI-Stream fan-out.  Every input beat is delivered to each of N_OUT output
// streams (e.g. the shortcut and the main branch of a residual block).
//
// Ports follow the multi-stream convention: output stream i is lane i, data at
// m_axis_tdata[i*WIDTH +: WIDTH], handshake m_axis_tvalid[i] / m_axis_tready[i].
//
// Each lane has its own registered output beat plus one skid register, so lanes drain
// independently: a slow consumer on one lane stalls the input only once that lane's skid
// is full.  An input beat is accepted when no lane's skid is full; it goes to every
// lane's output register, or to the skid of a lane whose output register is still held.
// After a skid fills no further beat is accepted until all skids are empty again, so
// every full skid holds the same beat (the last one accepted): the lanes share one skid
// data register.
//
// s_axis_tready = !(any skid full) is registered state only (never a function of
// m_axis_tready); m_axis_tdata/tvalid come straight from registers.  One beat per cycle
// when every consumer is ready; latency 1 cycle.
//
// Legal parameters: WIDTH >= 1, N_OUT >= 2.  Others instantiate a module that does not
// exist, whose name says what is wrong.
`default_nettype none

module hwflow_dup #(
  parameter integer WIDTH = 8,
  parameter integer N_OUT = 2
) (
  input  wire                   ap_clk,
  input  wire                   ap_rst_n,
  input  wire [WIDTH-1:0]       s_axis_tdata,
  input  wire                   s_axis_tvalid,
  output wire                   s_axis_tready,
  output wire [N_OUT*WIDTH-1:0] m_axis_tdata,
  output wire [N_OUT-1:0]       m_axis_tvalid,
  input  wire [N_OUT-1:0]       m_axis_tready
);
  generate
    if (WIDTH < 1) begin : g_bad_width
      hwflow_dup_ILLEGAL_WIDTH_must_be_at_least_1 u_err ();
    end
    if (N_OUT < 2) begin : g_bad_n
      hwflow_dup_ILLEGAL_N_OUT_must_be_at_least_2 u_err ();
    end
  endgenerate

  reg  [N_OUT-1:0]       ovalid, sfull;
  reg  [N_OUT*WIDTH-1:0] odata;
  reg  [WIDTH-1:0]       last;                    // the last accepted beat (= every full skid)

  wire                   in_fire = s_axis_tvalid && !(|sfull);
  wire [N_OUT-1:0]       load    = ~ovalid | m_axis_tready;

  integer i;
  always @(posedge ap_clk) begin
    if (in_fire) last <= s_axis_tdata;
    for (i = 0; i < N_OUT; i = i + 1)
      if (load[i]) odata[i*WIDTH +: WIDTH] <= sfull[i] ? last : s_axis_tdata;
  end

  always @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      ovalid <= {N_OUT{1'b0}};
      sfull  <= {N_OUT{1'b0}};
    end else begin
      // A lane whose skid is full drains it first (no input is accepted meanwhile);
      // otherwise its output register takes the input beat, or the skid does when the
      // output register is still held.
      for (i = 0; i < N_OUT; i = i + 1) begin
        if (load[i]) begin
          ovalid[i] <= sfull[i] || in_fire;
          sfull[i]  <= 1'b0;
        end else if (in_fire) begin
          sfull[i]  <= 1'b1;
        end
      end
    end
  end

  assign s_axis_tready = !(|sfull);
  assign m_axis_tdata  = odata;
  assign m_axis_tvalid = ovalid;
endmodule

`default_nettype wire
