// hwflow_labelselect: top-1 label select, the RTL twin of the HLS kernel label_select
// (hwflow/hls/hwflow_labelselect.h): per vector of N = NF*PE integers, the index of the
// largest one; ties go to the lowest index (numpy.argmax).
//
// Input: per vector NF beats of PE elements of IN_BITS bits (the MVAU's dot output),
// element nf*PE+p at bits [p*IN_BITS +: IN_BITS] of beat nf; two's complement when
// IN_SIGNED, else unsigned.
// Output: one beat of IDX_BITS bits per vector, the index (unsigned) of its first maximum.
//
// Two pipeline stages:
//   A  a balanced comparison tree over the PE elements of the incoming beat (pairs of
//      adjacent nodes, the left one, i.e. the lower index, wins ties; clog2(PE) levels)
//      registers the beat's maximum, its lane and the beat's base index nf*PE;
//   B  merges it into the running best of the vector (strict > keeps the earlier
//      beat on ties; the base + lane add runs in parallel with the compare) and, on the
//      vector's last beat, emits the winning index.
// Signed values are compared as unsigned with the sign bit flipped.
//
// Output: a registered beat plus one skid register (as hwflow_maxpool).  Stage B holds
// a last beat only while the skid is full, so s_axis_tready = !(A holds a last beat &&
// skid full) is registered state only (never a function of m_axis_tready), and
// m_axis_tdata/tvalid come straight from registers.
//
// Cycles per vector, steady stream, no stalls: NF (one input beat per cycle, vectors
// back to back with no bubble); latency from the last input beat to the output beat:
// 2 cycles (measured in tests/test_rtl_labelselect.py).
//
// Legal parameters: NF >= 1, PE >= 1, IN_BITS >= 1, IDX_BITS >= max(1, clog2(NF*PE)).
// Others instantiate a module that does not exist, whose name says what is wrong.
`default_nettype none

module hwflow_labelselect #(
  parameter integer NF = 10,
  parameter integer PE = 1,
  parameter integer IN_BITS = 16,
  parameter integer IN_SIGNED = 1,    // elements in two's complement
  parameter integer IDX_BITS = 4
) (
  input  wire                  ap_clk,
  input  wire                  ap_rst_n,
  input  wire [PE*IN_BITS-1:0] s_axis_tdata,
  input  wire                  s_axis_tvalid,
  output wire                  s_axis_tready,
  output wire [IDX_BITS-1:0]   m_axis_tdata,
  output wire                  m_axis_tvalid,
  input  wire                  m_axis_tready
);
  localparam integer N  = NF * PE;
  localparam integer VW = IN_BITS;                       // compared value width
  localparam integer PW = (PE > 1) ? $clog2(PE) : 1;     // lane index width
  localparam integer LV = (PE > 1) ? $clog2(PE) : 0;     // tree levels
  localparam integer XW = IDX_BITS;

  generate
    if (NF < 1 || PE < 1 || IN_BITS < 1) begin : g_bad_dims
      hwflow_labelselect_ILLEGAL_NF_PE_IN_BITS_must_be_at_least_1 u_err ();
    end
    if (IDX_BITS < 1 || (N > 1 && $clog2(N) > IDX_BITS)) begin : g_bad_idx
      hwflow_labelselect_ILLEGAL_IDX_BITS_below_clog2_NF_x_PE u_err ();
    end
  endgenerate

  // Flipping the sign bit makes a two's complement compare an unsigned one.
  localparam [VW-1:0] FLIP = (IN_SIGNED != 0) ? {1'b1, {(VW-1){1'b0}}} : {VW{1'b0}};
  // Sized constants via part-selects of 32-bit localparams (exact lint widths).
  localparam [31:0] PE32   = PE;
  localparam [31:0] LAST32 = (NF - 1) * PE;
  localparam [XW-1:0] PE_C   = PE32[XW-1:0];
  localparam [XW-1:0] LAST_C = LAST32[XW-1:0];

  // ------------------------------------------------------------------ stage A: tree
  // Level k has ceil(PE / 2^k) nodes; node j of level k covers lanes
  // [j*2^k, (j+1)*2^k), so a left child always holds lower lanes than its sibling.
  genvar k, j;
  generate
    for (k = 0; k <= LV; k = k + 1) begin : g_lv
      localparam integer NN = (PE + (1 << k) - 1) >> k;
      wire [NN*VW-1:0] val;
      wire [NN*PW-1:0] idx;
      if (k == 0) begin : g_leaf
        for (j = 0; j < PE; j = j + 1) begin : g_j
          localparam [31:0] J32 = j;
          assign val[j*VW +: VW] = s_axis_tdata[j*IN_BITS +: IN_BITS] ^ FLIP;
          assign idx[j*PW +: PW] = J32[PW-1:0];
        end
      end else begin : g_node
        localparam integer NP = (PE + (1 << (k - 1)) - 1) >> (k - 1);
        for (j = 0; j < NN; j = j + 1) begin : g_j
          if (2 * j + 1 < NP) begin : g_cmp
            wire [VW-1:0] vl = g_lv[k-1].val[(2*j)*VW +: VW];
            wire [VW-1:0] vr = g_lv[k-1].val[(2*j+1)*VW +: VW];
            wire right = (vr > vl);                      // ties keep the lower lane
            assign val[j*VW +: VW] = right ? vr : vl;
            assign idx[j*PW +: PW] = right ? g_lv[k-1].idx[(2*j+1)*PW +: PW]
                                           : g_lv[k-1].idx[(2*j)*PW +: PW];
          end else begin : g_pass                        // odd node out
            assign val[j*VW +: VW] = g_lv[k-1].val[(2*j)*VW +: VW];
            assign idx[j*PW +: PW] = g_lv[k-1].idx[(2*j)*PW +: PW];
          end
        end
      end
    end
  endgenerate

  wire [VW-1:0] beat_val = g_lv[LV].val;
  wire [PW-1:0] beat_idx = g_lv[LV].idx;

  reg  [XW-1:0] base;        // nf*PE of the next input beat
  reg           a_valid, a_first, a_last;
  reg  [VW-1:0] a_val;
  reg  [PW-1:0] a_p;
  reg  [XW-1:0] a_base;

  // ------------------------------------------------------------------ stage B: merge
  reg  [VW-1:0] best_val;
  reg  [XW-1:0] best_idx;
  reg           sfull, ovalid;
  reg  [XW-1:0] sdata, odata;

  wire          a_adv   = !(a_valid && a_last && sfull);  // B consumes A this cycle
  wire          in_fire = s_axis_tvalid && a_adv;
  wire          b_fire  = a_valid && a_adv;
  wire          take    = a_first || (a_val > best_val);
  wire [XW-1:0] cand    = a_base + {{(XW-PW){1'b0}}, a_p};
  wire [XW-1:0] result  = take ? cand : best_idx;
  wire          emit    = b_fire && a_last;
  wire          load    = !ovalid || m_axis_tready;

  always @(posedge ap_clk) begin
    if (in_fire) begin
      a_val   <= beat_val;
      a_p     <= beat_idx;
      a_base  <= base;
      a_first <= (base == {XW{1'b0}});
      a_last  <= (base == LAST_C);
    end
    if (b_fire && take) begin
      best_val <= a_val;
      best_idx <= cand;
    end
    if (load) odata <= sfull ? sdata : result;
    if (emit && !load) sdata <= result;
  end

  always @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      base    <= {XW{1'b0}};
      a_valid <= 1'b0;
      sfull   <= 1'b0;
      ovalid  <= 1'b0;
    end else begin
      if (in_fire) base <= (base == LAST_C) ? {XW{1'b0}} : base + PE_C;
      if (a_adv) a_valid <= in_fire;
      // Skid holds at most one beat; it fills only when the output register is busy.
      if (load) begin
        ovalid <= sfull || emit;
        sfull  <= 1'b0;
      end else if (emit) begin
        sfull  <= 1'b1;
      end
    end
  end

  assign s_axis_tready = a_adv;
  assign m_axis_tdata  = odata;
  assign m_axis_tvalid = ovalid;
endmodule

`default_nettype wire
