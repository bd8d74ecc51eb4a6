// hwflow_fifo: AXI-Stream FIFO holding exactly DEPTH beats.
//
// Structure: a ring buffer of DEPTH-1 entries (write port synchronous, read
// asynchronous, so synthesis maps it to LUTRAM/SRL for large depths and to plain
// flip-flops for tiny ones) followed by a registered output stage that holds the
// head beat.  A beat arriving while the FIFO is empty (or the head is being
// consumed and the ring is empty) goes straight into the output register, so the
// latency is one cycle and the FIFO sustains one beat per cycle.
//
// s_axis_tready is a function of the occupancy counter only (never of
// m_axis_tready), so a FIFO breaks combinational ready chains between cores;
// m_axis_tvalid and m_axis_tdata come straight from registers.
`default_nettype none

module hwflow_fifo #(
  parameter integer WIDTH = 8,
  parameter integer DEPTH = 2      // capacity in beats, >= 2
) (
  input  wire             ap_clk,
  input  wire             ap_rst_n,
  input  wire [WIDTH-1:0] s_axis_tdata,
  input  wire             s_axis_tvalid,
  output wire             s_axis_tready,
  output wire [WIDTH-1:0] m_axis_tdata,
  output wire             m_axis_tvalid,
  input  wire             m_axis_tready
);
  // Ring entries besides the output register.
  localparam integer RD = DEPTH - 1;
  // Pointer and counter widths; at least one bit so RD == 1 still elaborates.
  localparam integer PW = (RD > 1) ? $clog2(RD) : 1;
  localparam integer CW = $clog2(RD + 1);
  // Sized constants: take part-selects of 32-bit localparams (lint-clean widths).
  localparam [31:0] PTR_LAST32 = RD - 1;
  localparam [31:0] CNT_FULL32 = RD;
  localparam [PW-1:0] PTR_LAST = PTR_LAST32[PW-1:0];
  localparam [CW-1:0] CNT_FULL = CNT_FULL32[CW-1:0];

  reg [WIDTH-1:0] ring [0:RD-1];
  reg [PW-1:0]    wptr, rptr;
  reg [CW-1:0]    cnt;          // beats in the ring (not counting the output register)
  reg [WIDTH-1:0] odata;
  reg             ovalid;

  wire in_fire  = s_axis_tvalid && s_axis_tready;
  // The output register can take a new beat when empty or being consumed.
  wire load     = !ovalid || m_axis_tready;
  wire ring_any = (cnt != {CW{1'b0}});
  // An incoming beat skips the ring when the ring is empty and the output
  // register is free this cycle; that keeps order and gives 1-cycle latency.
  wire bypass   = in_fire && load && !ring_any;
  wire ring_wr  = in_fire && !bypass;
  wire ring_rd  = load && ring_any;

  // Full when the ring is full; the output register is then necessarily
  // occupied (it is refilled whenever the ring holds anything).
  assign s_axis_tready = (cnt != CNT_FULL);
  assign m_axis_tdata  = odata;
  assign m_axis_tvalid = ovalid;

  always @(posedge ap_clk) begin
    if (ring_wr) ring[wptr] <= s_axis_tdata;
    if (load) begin
      if (ring_any)    odata <= ring[rptr];
      else if (in_fire) odata <= s_axis_tdata;
    end
  end

  always @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      wptr   <= {PW{1'b0}};
      rptr   <= {PW{1'b0}};
      cnt    <= {CW{1'b0}};
      ovalid <= 1'b0;
    end else begin
      if (ring_wr) wptr <= (wptr == PTR_LAST) ? {PW{1'b0}} : wptr + 1'b1;
      if (ring_rd) rptr <= (rptr == PTR_LAST) ? {PW{1'b0}} : rptr + 1'b1;
      if (ring_wr && !ring_rd)      cnt <= cnt + 1'b1;
      else if (ring_rd && !ring_wr) cnt <= cnt - 1'b1;
      if (load) ovalid <= ring_any || in_fire;
    end
  end
endmodule

`default_nettype wire
