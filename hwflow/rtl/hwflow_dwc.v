// hwflow_dwc: AXI-Stream width converter for a continuous bit stream.
//
// Input beats of IW bits are appended LSB-first to a bit queue; output beats take
// the next OW bits from its bottom.  IW and OW are arbitrary (they need not divide
// each other); the caller guarantees that the bits per image are a multiple of both.
//
// The queue is a register `q` of C = IW + OW + max(IW, OW) bits holding `cnt` valid
// bits at the bottom (bits above cnt are kept zero, so an insert is a plain OR).  That
// capacity is what lets both ready/valid flags be registered functions of `cnt` alone
// (never of the other port's handshake) while still sustaining
//   input  min(1, OW/IW) beats/cycle and output min(1, IW/OW) beats/cycle:
//   * IW < OW: cnt never exceeds OW + IW - g < C - IW, so input is always accepted;
//   * IW > OW: input is accepted whenever cnt <= OW + IW, which keeps cnt >= OW,
//     so an output beat is available every cycle.
// Every fill level is a multiple of G = gcd(IW, OW), so the insert position is kept in
// units of G and the barrel shifter has only log2(C/G) stages.
// IW == OW degenerates to a wire pass-through (no state, no latency).
`default_nettype none

module hwflow_dwc #(
  parameter integer IW = 8,
  parameter integer OW = 8
) (
  input  wire          ap_clk,
  input  wire          ap_rst_n,
  input  wire [IW-1:0] s_axis_tdata,
  input  wire          s_axis_tvalid,
  output wire          s_axis_tready,
  output wire [OW-1:0] m_axis_tdata,
  output wire          m_axis_tvalid,
  input  wire          m_axis_tready
);
  function integer gcd_f(input integer a, input integer b);
    integer x, y, t;
    begin
      x = a; y = b;
      while (y != 0) begin
        t = x % y; x = y; y = t;
      end
      gcd_f = x;
    end
  endfunction

  generate
    if (IW == OW) begin : g_pass
      assign m_axis_tdata  = s_axis_tdata;
      assign m_axis_tvalid = s_axis_tvalid;
      assign s_axis_tready = m_axis_tready;
      // Clock and reset are unused in the pass-through.
      wire unused_ok = &{1'b0, ap_clk, ap_rst_n};
    end else begin : g_conv
      localparam integer G   = gcd_f(IW, OW);
      localparam integer C   = IW + OW + ((IW > OW) ? IW : OW);
      localparam integer CU  = C / G;            // capacity in units of G bits
      localparam integer UW  = $clog2(CU + 1);   // fill-level counter width
      localparam integer NST = $clog2(CU);       // barrel-shifter stages (CU >= 3)
      localparam [31:0] IU32 = IW / G;
      localparam [31:0] OU32 = OW / G;
      localparam [31:0] CU32 = CU;
      localparam [UW-1:0] IU  = IU32[UW-1:0];
      localparam [UW-1:0] OU  = OU32[UW-1:0];
      localparam [UW:0]   CUX = CU32[UW:0];

      reg [C-1:0]  q;
      reg [UW-1:0] cnt;      // valid bits in q, in units of G
      reg          ovalid;
      reg          iready;

      wire in_fire  = s_axis_tvalid && iready;
      wire out_fire = ovalid && m_axis_tready;

      // Fill level after this cycle's output pop: where new input bits go.
      wire [UW-1:0] base     = out_fire ? cnt - OU : cnt;
      wire [UW-1:0] cnt_next = in_fire ? base + IU : base;
      wire [C-1:0]  kept     = out_fire ? (q >> OW) : q;

      // Barrel shifter: stage k shifts by G*2^k when bit k of `base` is set.
      wire [C-1:0] sh [0:NST];
      assign sh[0] = {{(C-IW){1'b0}}, s_axis_tdata};
      genvar k;
      for (k = 0; k < NST; k = k + 1) begin : g_sh
        assign sh[k+1] = base[k] ? (sh[k] << (G << k)) : sh[k];
      end

      always @(posedge ap_clk) begin
        if (!ap_rst_n) begin
          q      <= {C{1'b0}};
          cnt    <= {UW{1'b0}};
          ovalid <= 1'b0;
          iready <= 1'b0;
        end else begin
          q      <= in_fire ? (kept | sh[NST]) : kept;
          cnt    <= cnt_next;
          ovalid <= (cnt_next >= OU);
          // Room for a whole input beat without counting on next cycle's pop.
          iready <= ({1'b0, cnt_next} + {1'b0, IU}) <= CUX;
        end
      end

      assign m_axis_tdata  = q[OW-1:0];
      assign m_axis_tvalid = ovalid;
      assign s_axis_tready = iready;
    end
  endgenerate
endmodule

`default_nettype wire
