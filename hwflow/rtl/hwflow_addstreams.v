// hwflow_addstreams: element-wise sum of two streams (e.g. a residual block's join).
//
// Inputs follow the multi-stream convention: stream i is lane i, data at
// s_axis_tdata[i*PE*IN_BITS +: PE*IN_BITS], handshake s_axis_tvalid[i] / s_axis_tready[i].
// Each beat carries PE elements of IN_BITS bits (element p at bits [p*IN_BITS +: IN_BITS]),
// two's complement when IN_SIGNED, else unsigned.
// Output: one stream of PE elements of OUT_BITS bits, out[p] = in0[p] + in1[p], computed
// modulo 2^OUT_BITS (the instantiator chooses OUT_BITS wide enough for its values; the
// inputs are sign- or zero-extended when OUT_BITS > IN_BITS; no range check here).
//
// A beat pair is consumed when both inputs are valid and the output stage can take it:
// s_axis_tready[0] = !skid_full && s_axis_tvalid[1] and vice versa (a ready may depend on
// the other lane's valid, as the AXI-Stream rules allow; it never depends on
// m_axis_tready).  Output: a registered beat plus one skid register (as hwflow_maxpool);
// m_axis_tdata/tvalid come straight from registers.  One beat per cycle, latency 1.
//
// Legal parameters: PE, IN_BITS, OUT_BITS >= 1.  Others instantiate a module that does
// not exist, whose name says what is wrong.
`default_nettype none

module hwflow_addstreams #(
  parameter integer PE = 1,
  parameter integer IN_BITS = 8,
  parameter integer IN_SIGNED = 1,     // elements in two's complement
  parameter integer OUT_BITS = 9
) (
  input  wire                    ap_clk,
  input  wire                    ap_rst_n,
  input  wire [2*PE*IN_BITS-1:0] s_axis_tdata,
  input  wire [1:0]              s_axis_tvalid,
  output wire [1:0]              s_axis_tready,
  output wire [PE*OUT_BITS-1:0]  m_axis_tdata,
  output wire                    m_axis_tvalid,
  input  wire                    m_axis_tready
);
  localparam integer LW = PE * IN_BITS;           // one input lane
  localparam integer OW = PE * OUT_BITS;

  generate
    if (PE < 1 || IN_BITS < 1 || OUT_BITS < 1) begin : g_bad_dims
      hwflow_addstreams_ILLEGAL_PE_IN_BITS_OUT_BITS_must_be_at_least_1 u_err ();
    end
  endgenerate

  wire [OW-1:0] sum;
  genvar p;
  generate
    for (p = 0; p < PE; p = p + 1) begin : g_pe
      wire [IN_BITS-1:0] a = s_axis_tdata[p*IN_BITS +: IN_BITS];
      wire [IN_BITS-1:0] b = s_axis_tdata[LW + p*IN_BITS +: IN_BITS];
      wire [OUT_BITS-1:0] ax, bx;
      if (OUT_BITS > IN_BITS) begin : g_ext
        assign ax = {{(OUT_BITS-IN_BITS){(IN_SIGNED != 0) ? a[IN_BITS-1] : 1'b0}}, a};
        assign bx = {{(OUT_BITS-IN_BITS){(IN_SIGNED != 0) ? b[IN_BITS-1] : 1'b0}}, b};
      end else begin : g_trunc
        // the low OUT_BITS bits of the sum only depend on the low bits of the terms
        assign ax = a[OUT_BITS-1:0];
        assign bx = b[OUT_BITS-1:0];
        if (OUT_BITS < IN_BITS) begin : g_hi
          wire unused_hi = &{1'b0, a[IN_BITS-1:OUT_BITS], b[IN_BITS-1:OUT_BITS]};
        end
      end
      assign sum[p*OUT_BITS +: OUT_BITS] = ax + bx;
    end
  endgenerate

  reg           sfull, ovalid;
  reg  [OW-1:0] sdata, odata;

  wire both    = &s_axis_tvalid;
  wire in_fire = both && !sfull;
  wire load    = !ovalid || m_axis_tready;

  always @(posedge ap_clk) begin
    if (load) odata <= sfull ? sdata : sum;
    if (in_fire && !load) sdata <= sum;
  end

  always @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      sfull  <= 1'b0;
      ovalid <= 1'b0;
    end else if (load) begin
      // Skid holds at most one beat; it fills only when the output register is busy.
      ovalid <= sfull || in_fire;
      sfull  <= 1'b0;
    end else if (in_fire) begin
      sfull  <= 1'b1;
    end
  end

  assign s_axis_tready = {!sfull && s_axis_tvalid[0], !sfull && s_axis_tvalid[1]};
  assign m_axis_tdata  = odata;
  assign m_axis_tvalid = ovalid;
endmodule

`default_nettype wire
