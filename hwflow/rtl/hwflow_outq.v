// hwflow_outq: output queue of a credit-managed producer (MVAU, SWG).
//
// A small ring plus the registered output beat.  The producer holds one credit per
// slot (QR ring entries + the output register) and writes only against a credit, so
// the write side needs no ready.  A beat written while the queue is empty and the
// output register is free goes straight to the output register (no extra latency).
`default_nettype none
module hwflow_outq #(
  parameter integer W  = 8,
  parameter integer QR = 2            // ring entries besides the output register (>= 2)
) (
  input  wire         ap_clk,
  input  wire         ap_rst_n,
  input  wire         wr,
  input  wire [W-1:0] wdata,
  output wire [W-1:0] m_axis_tdata,
  output wire         m_axis_tvalid,
  input  wire         m_axis_tready
);
  localparam integer QPW = $clog2(QR);
  localparam integer QCW = $clog2(QR + 1);
  // sized constant via a part-select of a 32-bit localparam (keeps lint widths exact)
  localparam [31:0]    QR_LAST32 = QR - 1;
  localparam [QPW-1:0] QR_LAST   = QR_LAST32[QPW-1:0];

  reg [W-1:0]   qring [0:QR-1];
  reg [QPW-1:0] qw, qr;
  reg [QCW-1:0] qcnt;
  reg [W-1:0]   odata;
  reg           ovalid;

  wire qload    = !ovalid || m_axis_tready;
  wire qany     = (qcnt != {QCW{1'b0}});
  wire q_bypass = wr && qload && !qany;
  wire q_wr     = wr && !q_bypass;
  wire q_rd     = qload && qany;

  always @(posedge ap_clk) begin
    if (q_wr) qring[qw] <= wdata;
    if (qload) begin
      if (qany)    odata <= qring[qr];
      else if (wr) odata <= wdata;
    end
  end

  always @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      qw     <= {QPW{1'b0}};
      qr     <= {QPW{1'b0}};
      qcnt   <= {QCW{1'b0}};
      ovalid <= 1'b0;
    end else begin
      if (q_wr) qw <= (qw == QR_LAST) ? {QPW{1'b0}} : qw + 1'b1;
      if (q_rd) qr <= (qr == QR_LAST) ? {QPW{1'b0}} : qr + 1'b1;
      if (q_wr && !q_rd)      qcnt <= qcnt + 1'b1;
      else if (q_rd && !q_wr) qcnt <= qcnt - 1'b1;
      if (qload) ovalid <= qany || wr;
    end
  end

  assign m_axis_tdata  = odata;
  assign m_axis_tvalid = ovalid;
endmodule
`default_nettype wire
