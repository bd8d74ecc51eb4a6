// hwflow_mvau: binary (XNOR-popcount) matrix-vector unit with optional thresholds.
//
// One image: MW input bits arrive as SF = MW/SIMD beats of SIMD bits; MH outputs leave
// as NF = MH/PE beats of PE results.  Work is done in NF*SF "iterations" (nf, sf):
// PE neurons times SIMD inputs per cycle.  During fold nf == 0 the input beats are
// taken from the stream and also written to an SF-word buffer; folds nf > 0 re-read
// the buffer.  So one image takes exactly NF*SF cycles and the next image's input
// flows in as soon as its first fold starts (the buffer slot sf is overwritten only
// after the previous image's last fold has read it).
//
// Pipeline (free-running: every stage advances every cycle, carrying a valid bit):
//   issue  counters (nf, sf, weight address); stalls only for input data (nf == 0)
//          or for output-queue credit (on the last sf of a fold)
//   S1     weight ROM read (registered: BRAM/LUTROM), input/buffer word registered
//   S2     second register on both (lets synthesis use the BRAM output register); a binary
//          ROM in LUTs is read here instead, XNORed with the input in the same LUT
//   S3     XNOR + popcount per PE (registered; +1 cycle inside the tree for SIMD > 64)
//   S4     accumulate over sf; threshold ROM read for the finished fold
//   queue  compare (or 2*pc - MW) and write into a small output queue
// Back-pressure is handled by credit: a fold may only start its last iteration when
// a queue slot is reserved for its result, so nothing in the pipeline ever has to
// stall.  Consequently s_axis_tready depends only on internal state (never on
// m_axis_tready) and the m_axis outputs come straight from registers.
//
// Integer datapath (IN_BITS > 1 or W_BITS > 1, e.g. the first layer of a CNV on 8-bit
// pixels, or ternary weights times 2-bit activations): elements are IN_BITS-wide
// integers (two's complement if IN_SIGNED; IN_BITS == 1 is a bipolar bit, 1 = +1),
// element s at s_axis_tdata[s*IN_BITS +: IN_BITS]; a weight is a bit (1/0 = +1/-1) when
// W_BITS == 1, else a W_BITS-bit two's complement integer at ROM bits
// [(p*SIMD+s)*W_BITS +: W_BITS].  S3 becomes a signed adder tree of the products w_i*a_i
// and the accumulator, thresholds (TW-bit two's complement) and the comparison are
// signed; dot mode outputs acc itself.  Timing is the same NF*SF cycles per image.
// INT_FORM = 2 computes the same sum from bit planes instead: one popcount of SIMD bits per
// (input plane, weight plane) pair, shifted and signed, then added (one more S3 cycle); the
// ROM then holds PE p's weight bit j of element s at [(p*W_BITS + j)*SIMD + s].
// INT_FORM = 3 (+-1 weights, few elements: the first layer of a conv net on RGB pixels):
// the 2^SIMD sums of +-a over the beat's elements, one per sign pattern, are computed once and
// shared; each PE selects its sum with its SIMD weight bits (same ROM layout and timing as 1).
// IN_BITS == W_BITS == 1 is the XNOR-popcount path above.
`default_nettype none

// In Verilator each register-free popcount subtree is simulated as one $countones, unless
// HWFLOW_TABLE_LEAVES asks for the synthesized form there too (see hwflow_mvau_popcount).
`ifdef VERILATOR
`ifndef HWFLOW_TABLE_LEAVES
`define HWFLOW_MVAU_SIM_COUNTS
`endif
`endif

module hwflow_mvau #(
  parameter integer MW = 64,
  parameter integer MH = 32,
  parameter integer SIMD = 8,
  parameter integer PE = 4,
  parameter integer THRESH = 1,
  parameter integer IN_BITS = 1,
  parameter integer IN_SIGNED = 1,     // only read when IN_BITS > 1
  parameter integer W_BITS = 1,        // 1: weight bits (1 = +1); else two's complement integers
  // Integer datapath form (the caller picks it, with the weight layout to match):
  // 1 = products w_i*a_i in an adder tree, 2 = popcounts of bit-plane pairs,
  // 3 = a shared table of the signed sums, selected by the weight bits (W_BITS == 1, SIMD <= 6)
  parameter integer INT_FORM = 1,
  // Widths come from the caller: hwflow computes them once (hwflow/layers/mvau.py) and
  // passes them to this core and to the HLS kernel alike.  The defaults fit the default
  // MW = 64 with 1-bit inputs: popcount 0..64 (7 bits), thresholds 0..65, 1-bit outputs.
  parameter integer ACC_W = 7,         // popcount width, or the signed accumulator's (IN_BITS > 1)
  parameter integer TW = 7,            // threshold width (two's complement when IN_BITS > 1)
  parameter integer OUT_BITS = 1,      // THRESH: the activation's width, else the dot product's
  // THRESH: NT thresholds per neuron; the output is (how many of them acc reaches) + OUT_BIAS,
  // an OUT_BITS-bit integer (two's complement when OUT_BIAS < 0): a k-bit activation has
  // NT <= 2^k - 1.  NT = 1, OUT_BIAS = 0, OUT_BITS = 1 is the 1-bit activation (bit 1 = +1).
  parameter integer NT = 1,
  parameter integer OUT_BIAS = 0,
  parameter WEIGHT_FILE = "weights.mem",
  parameter THRESH_FILE = "thresh.mem",
  // the weight ROM's home: "block", "distributed" (LUTs) or "auto" (the tool's choice)
  parameter RAM_STYLE = "auto"
) (
  input  wire                   ap_clk,
  input  wire                   ap_rst_n,
  input  wire [SIMD*IN_BITS-1:0] s_axis_tdata,
  input  wire                   s_axis_tvalid,
  output wire                   s_axis_tready,
  output wire [PE*OUT_BITS-1:0] m_axis_tdata,
  output wire                   m_axis_tvalid,
  input  wire                   m_axis_tready
);
  localparam integer SF   = MW / SIMD;
  localparam integer NF   = MH / PE;
  localparam integer NW   = NF * SF;                 // weight ROM words
  localparam integer XW   = SIMD * IN_BITS;          // input word
  localparam integer MB   = (IN_BITS > 1 || W_BITS > 1) ? 1 : 0;   // integer (signed) datapath
  localparam integer WW   = PE * SIMD * W_BITS;      // weight ROM word
  // Binary weights in LUTs: the ROM read and the XNOR share a LUT (see S2).
  /* verilator lint_off WIDTHEXPAND */  // string parameters: "auto" is narrower than "block"
  localparam integer LUT_XNOR = (MB == 0 && RAM_STYLE != "block") ? 1 : 0;
  /* verilator lint_on WIDTHEXPAND */
  // Product terms: +-a in IN_BITS+1 bits (enough for -(-2^(IN_BITS-1)) and -(2^IN_BITS-1)),
  // times a W_BITS-bit weight in IN_BITS+1+W_BITS bits.
  localparam integer EW   = IN_BITS + 1;
  localparam integer TERMW = (W_BITS > 1) ? EW + W_BITS : EW;
  // Per-beat partial sum width: popcount, or a sum of SIMD terms.
  localparam integer PCW  = (MB != 0) ? TERMW + $clog2(SIMD) : $clog2(SIMD + 1);
  // Bit planes: sum_i sum_j a_i*b_j*popcount(plane_i(x) & plane_j(w)), one popcount of SIMD
  // bits per pair of planes.  Cheaper than SIMD multipliers and an adder tree of their
  // products while there are few planes and many elements; far cheaper to simulate.
  localparam integer PLANES = (MB != 0 && INT_FORM == 2) ? 1 : 0;
  localparam integer SIGNTAB = (MB != 0 && INT_FORM == 3) ? 1 : 0;
  // Subtrees this big get a register (multi-bit adders are wider, so cut sooner).
  localparam integer REGN = (MB != 0 && PLANES == 0) ? 16 : 64;
  // Extra S3 cycles: a register inside big trees; bit planes add one for combining the popcounts.
  localparam integer POP_LAT = ((SIMD > REGN) ? 1 : 0) + PLANES;
  localparam integer SFW  = (SF > 1) ? $clog2(SF) : 1;
  localparam integer NFW  = (NF > 1) ? $clog2(NF) : 1;
  localparam integer WAW  = (NW > 1) ? $clog2(NW) : 1;
  // Output queue depth = credits: a result's slot is reserved at issue and returned
  // when it leaves; that round trip is 6 + POP_LAT cycles (issue -> queue write
  // 5 + POP_LAT, then 1 until m_axis can take it), so this many slots sustain one
  // result per cycle (SF == 1) and fewer would lose throughput (checked in rtlsim).
  localparam integer QD   = 6 + POP_LAT;
  localparam integer QR   = QD - 1;                  // ring entries besides the output register
  localparam integer CRW  = $clog2(QD + 1);
  localparam integer OW   = PE * OUT_BITS;

  // The widths are the caller's to compute; a set that cannot hold the values stops
  // elaboration here with a name that says which one (as hwflow_swg does).
  localparam integer ACC_MIN = (MB != 0) ? IN_BITS + W_BITS + $clog2(MW) : $clog2(MW + 1);
  generate
    if (ACC_W < ACC_MIN) begin : g_bad_acc
      hwflow_mvau_ILLEGAL_ACC_W_too_narrow_for_MW u_err ();
    end
    if (INT_FORM < 1 || INT_FORM > 3) begin : g_bad_form
      hwflow_mvau_ILLEGAL_INT_FORM_must_be_1_2_or_3 u_err ();
    end
    if (INT_FORM == 3 && MB != 0 && (W_BITS != 1 || SIMD > 6)) begin : g_bad_tab
      hwflow_mvau_ILLEGAL_INT_FORM_3_needs_1_bit_weights_and_SIMD_up_to_6 u_err ();
    end
    if (THRESH != 0 && MB == 0 && TW < $clog2(MW + 2)) begin : g_bad_tw
      hwflow_mvau_ILLEGAL_TW_cannot_hold_0_to_MW_plus_1 u_err ();
    end
    if (THRESH == 0 && OUT_BITS != ((MB != 0) ? ACC_W : ACC_W + 1)) begin : g_bad_out
      hwflow_mvau_ILLEGAL_OUT_BITS_must_be_the_dot_width u_err ();
    end
    if (THRESH != 0 && (NT < 1 || OUT_BITS > 31 || ((OUT_BIAS < 0)
        ? (OUT_BIAS < -(1 << (OUT_BITS - 1)) || OUT_BIAS + NT > (1 << (OUT_BITS - 1)) - 1)
        : (OUT_BIAS + NT > (1 << OUT_BITS) - 1)))) begin : g_bad_act
      hwflow_mvau_ILLEGAL_OUT_BITS_cannot_hold_NT_levels u_err ();
    end
  endgenerate

  // Sized constants via part-selects of 32-bit localparams (keeps lint widths exact).
  localparam [31:0] SF_LAST32 = SF - 1;
  localparam [31:0] NF_LAST32 = NF - 1;
  localparam [31:0] NW_LAST32 = NW - 1;
  localparam [31:0] QD32      = QD;
  localparam [SFW-1:0] SF_LAST = SF_LAST32[SFW-1:0];
  localparam [NFW-1:0] NF_LAST = NF_LAST32[NFW-1:0];
  localparam [WAW-1:0] NW_LAST = NW_LAST32[WAW-1:0];
  localparam [CRW-1:0] QD_C    = QD32[CRW-1:0];

  // ------------------------------------------------------------------ issue
  reg  [SFW-1:0] sf;
  reg  [NFW-1:0] nf;
  reg  [WAW-1:0] waddr;     // == nf*SF + sf
  reg  [CRW-1:0] credit;    // output-queue slots not yet promised to a fold

  wire sf_first = (sf == {SFW{1'b0}});
  wire sf_last  = (sf == SF_LAST);
  wire fold0    = (nf == {NFW{1'b0}});
  wire can_go   = !sf_last || (credit != {CRW{1'b0}});
  wire go       = can_go && (!fold0 || s_axis_tvalid);
  wire out_fire;

  assign s_axis_tready = fold0 && can_go;

  always @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      sf     <= {SFW{1'b0}};
      nf     <= {NFW{1'b0}};
      waddr  <= {WAW{1'b0}};
      credit <= QD_C;
    end else begin
      if (go) begin
        sf    <= sf_last ? {SFW{1'b0}} : sf + 1'b1;
        waddr <= (waddr == NW_LAST) ? {WAW{1'b0}} : waddr + 1'b1;
        if (sf_last) nf <= (nf == NF_LAST) ? {NFW{1'b0}} : nf + 1'b1;
      end
      case ({go && sf_last, out_fire})
        2'b10:   credit <= credit - 1'b1;
        2'b01:   credit <= credit + 1'b1;
        default: credit <= credit;
      endcase
    end
  end

  // ------------------------------------------------------------------ S1: memories
`ifdef YOSYS
  // Yosys cannot put a ROM in LUT RAM: for it "distributed" is LUT logic, what Vivado builds
  localparam ROM_STYLE = (RAM_STYLE == "distributed") ? "logic" : RAM_STYLE;
`else
  /* verilator lint_off UNUSEDPARAM */  // only read by the rom_style attribute (synthesis)
  localparam ROM_STYLE = RAM_STYLE;
  /* verilator lint_on UNUSEDPARAM */
`endif
  (* rom_style = ROM_STYLE *) reg [WW-1:0] wrom [0:NW-1];
  initial $readmemh(WEIGHT_FILE, wrom);

  reg [XW-1:0]      xbuf [0:SF-1];   // input vector, written in fold 0
  reg [XW-1:0]      x1;
  reg               v1, f1, l1;
  reg [NFW-1:0]     n1;

  always @(posedge ap_clk) begin
    if (go) begin
      // Write-first RAM template: fold 0 stores and forwards the stream word.
      if (fold0) begin
        xbuf[sf] <= s_axis_tdata;
        x1       <= s_axis_tdata;
      end else begin
        x1 <= xbuf[sf];
      end
    end
    f1 <= sf_first;
    l1 <= sf_last;
    n1 <= nf;
  end

  // ------------------------------------------------------------------ S2
  // The weights reach S3 as w2 (the ROM word, read in S1 and registered twice: a BRAM's
  // output register), or on the binary path as xn2 = w XNOR x per synapse.  A binary ROM in
  // LUTs is read in S2 instead, from a registered address, in the same LUT as the XNOR (a
  // ROM of <= 32 words and the input bit fit one LUT6): no LUT level and half the registers.
  wire [WW-1:0]      w2;
  wire [PE*SIMD-1:0] xn2;
  generate
    if (LUT_XNOR != 0) begin : g_rom_xnor
      // The initial value keeps Yosys from moving this register behind the ROM (a register
      // there would cut the XNOR into a LUT of its own); it is not needed for correctness.
      reg [WAW-1:0] a1;
      initial a1 = {WAW{1'b0}};
      always @(posedge ap_clk) if (go) a1 <= waddr;
      wire [WW-1:0] wr = wrom[a1];
      reg [PE*SIMD-1:0] m2;
      always @(posedge ap_clk) if (v1) m2 <= ~({PE{x1}} ^ wr);
      assign xn2 = m2;
      // zero-extended: Verilator rejects a replication count over 8192, and WW reaches 12,544
      // (SFC's first layer at full speed)
      assign w2 = 0;
    end else begin : g_rom_reg
      reg [WW-1:0] w1r, w2r;
      always @(posedge ap_clk) begin
        if (go) w1r <= wrom[waddr];
        if (v1) w2r <= w1r;
      end
      assign w2 = w2r;
      if (MB == 0) begin : g_xn
        assign xn2 = ~({PE{x2}} ^ w2r);
      end else begin : g_no
        assign xn2 = 0;
      end
    end
  endgenerate
  reg [XW-1:0]      x2;
  reg               v2, f2, l2;
  reg [NFW-1:0]     n2;
  wire unused_s2 = &{1'b0, xn2, w2, x2, v2d};   // each datapath reads only some of them
  always @(posedge ap_clk) begin
    x2 <= x1;
    f2 <= f1;
    l2 <= l1;
    n2 <= n1;
  end

  // ------------------------------------------------------------------ S3: XNOR-popcount
  wire [PE*PCW-1:0] pc3;   // registered inside the popcount trees
  wire              v2d;   // v2 a cycle later: the valid of a popcount's inner registers
  genvar p, s, j;
  generate
    if (MB == 0) begin : g_xnor
      for (p = 0; p < PE; p = p + 1) begin : g_pc
        hwflow_mvau_popcount #(.N(SIMD), .W(PCW), .REGN(REGN), .PARENT_N(0), .ROOT_REG(1), .TABLES(LUT_XNOR)) u_pc (
          .clk(ap_clk), .en({v2d, v2}),
          .x(xn2[p*SIMD +: SIMD]),
          .y(pc3[p*PCW +: PCW])
        );
      end
    end else if (PLANES != 0) begin : g_planes
      // An element is a = sum_i A(i)*x_i + A0 over its bit planes x_i (bipolar: a = 2x - 1;
      // two's complement: the top plane counts -2^(IN_BITS-1)), a weight likewise
      // w = sum_j B(j)*w_j + B0.  So per PE
      //   sum_s a_s*w_s = sum_ij A(i)B(j) pc(x_i & w_j) + A0 sum_j B(j) pc(w_j)
      //                 + B0 sum_i A(i) pc(x_i) + A0*B0*SIMD,
      // every term a constant (a power of two, signed) times a popcount, summed mod 2^PCW:
      // the total fits PCW bits (as the product form's), so wrapped partial terms are exact.
      localparam integer NI = IN_BITS, NJ = W_BITS;
      localparam integer PW = $clog2(SIMD + 1);
      localparam integer NX = (W_BITS == 1) ? NI : 0;          // pc(x_i) terms (B0 = -1)
      localparam integer NWT = (IN_BITS == 1) ? NJ : 0;        // pc(w_j) terms (A0 = -1)
      localparam integer NTERM = NI * NJ + NX + NWT;  // (A0*B0 != 0 only on the XNOR path)
      // the input plane whose A(i) is negative: a two's complement input's top one (else none)
      localparam integer NEG_PLANE = (IN_BITS > 1 && IN_SIGNED != 0) ? IN_BITS - 1 : -1;
      wire [NI*SIMD-1:0] xpl;                                 // input planes, shared by the PEs
      for (j = 0; j < NI; j = j + 1) begin : g_xpl
        for (s = 0; s < SIMD; s = s + 1) begin : g_b
          assign xpl[j*SIMD + s] = x2[s*IN_BITS + j];
        end
      end
      // pc(x_i): registered like the PEs' popcounts (only with bipolar weights)
      wire [NI*PW-1:0] pcx;
      for (j = 0; j < NI; j = j + 1) begin : g_pcx
        if (W_BITS == 1) begin : g_on
          hwflow_mvau_popcount #(.N(SIMD), .W(PW), .REGN(REGN), .PARENT_N(0), .ROOT_REG(1)) u_pc (
            .clk(ap_clk), .en(2'b11), .x(xpl[j*SIMD +: SIMD]), .y(pcx[j*PW +: PW]));
        end else begin : g_off                                  // integer weights: B0 = 0
          assign pcx[j*PW +: PW] = {PW{1'b0}};
          wire unused_pcx = &{1'b0, pcx[j*PW +: PW]};
        end
      end
      for (p = 0; p < PE; p = p + 1) begin : g_pe
        wire [NJ*SIMD-1:0] wpl = w2[p*NJ*SIMD +: NJ*SIMD];   // the ROM holds planes
        wire [NTERM*PCW-1:0] terms;
        genvar i2;
        for (i2 = 0; i2 < NI * NJ + NWT; i2 = i2 + 1) begin : g_t
          // pairs (i, j) = (i2 / NJ, i2 % NJ), then the pc(w_j) terms
          localparam integer PAIR = (i2 < NI * NJ) ? 1 : 0;
          localparam integer I = (PAIR != 0) ? i2 / NJ : 0, J = (PAIR != 0) ? i2 % NJ : i2 - NI * NJ;
          localparam integer AI_NEG = (I == NEG_PLANE) ? 1 : 0;
          localparam integer BJ_NEG = (W_BITS > 1 && J == W_BITS - 1) ? 1 : 0;
          // A(i) = 2 (bipolar) or +-2^i; pc(w_j) terms carry A0 = -1 instead of A(i)
          localparam integer SH = ((PAIR != 0) ? ((IN_BITS == 1) ? 1 : I) : 0) + ((W_BITS == 1) ? 1 : J);
          localparam integer NEG = (PAIR != 0) ? (AI_NEG ^ BJ_NEG) : (1 ^ BJ_NEG);
          wire [SIMD-1:0] m = (PAIR != 0) ? (xpl[I*SIMD +: SIMD] & wpl[J*SIMD +: SIMD]) : wpl[J*SIMD +: SIMD];
          wire [PW-1:0] c;
          hwflow_mvau_popcount #(.N(SIMD), .W(PW), .REGN(REGN), .PARENT_N(0), .ROOT_REG(1)) u_pc (
            .clk(ap_clk), .en(2'b11), .x(m), .y(c));
          wire [PCW-1:0] v = {{(PCW-PW){1'b0}}, c} << SH;
          assign terms[i2*PCW +: PCW] = (NEG != 0) ? -v : v;
        end
        for (i2 = 0; i2 < NX; i2 = i2 + 1) begin : g_tx
          // B0 = -1: -A(i) pc(x_i)
          localparam integer AI_NEG = (i2 == NEG_PLANE) ? 1 : 0;
          wire [PCW-1:0] v = {{(PCW-PW){1'b0}}, pcx[i2*PW +: PW]} << ((IN_BITS == 1) ? 1 : i2);
          assign terms[(NI*NJ + NWT + i2)*PCW +: PCW] = (AI_NEG != 0) ? v : -v;
        end
        hwflow_mvau_sumtree #(.N(NTERM), .IW(PCW), .W(PCW), .REGN(NTERM), .PARENT_N(0), .ROOT_REG(1))
          u_sum (.clk(ap_clk), .x(terms), .y(pc3[p*PCW +: PCW]));
      end
    end else if (SIGNTAB != 0) begin : g_signtab
      // sum[c] = sum_s (c[s] ? a_s : -a_s) for every sign pattern c: 2^SIMD adder trees, shared
      localparam integer NC = 1 << SIMD;
      wire [PCW-1:0] sums [0:NC-1];
      genvar c;
      for (c = 0; c < NC; c = c + 1) begin : g_c
        wire [SIMD*TERMW-1:0] terms;
        for (s = 0; s < SIMD; s = s + 1) begin : g_t
          wire [IN_BITS-1:0] a = x2[s*IN_BITS +: IN_BITS];
          wire [EW-1:0] e = {(IN_SIGNED != 0) ? a[IN_BITS-1] : 1'b0, a};
          assign terms[s*TERMW +: TERMW] = (((c >> s) & 1) != 0) ? e : -e;
        end
        hwflow_mvau_sumtree #(.N(SIMD), .IW(TERMW), .W(PCW), .REGN(REGN), .PARENT_N(0), .ROOT_REG(0))
          u_sum (.clk(ap_clk), .x(terms), .y(sums[c]));
      end
      for (p = 0; p < PE; p = p + 1) begin : g_pe
        reg [PCW-1:0] r;
        always @(posedge ap_clk) r <= sums[w2[p*SIMD +: SIMD]];
        assign pc3[p*PCW +: PCW] = r;
      end
    end else begin : g_mult
      for (p = 0; p < PE; p = p + 1) begin : g_pe
        wire [SIMD*TERMW-1:0] terms;
        for (s = 0; s < SIMD; s = s + 1) begin : g_t
          wire [IN_BITS-1:0] a = x2[s*IN_BITS +: IN_BITS];
          wire [EW-1:0] e;
          if (IN_BITS == 1) begin : g_bip      // bipolar bit: +1 / -1
            assign e = a[0] ? {{(EW-1){1'b0}}, 1'b1} : {EW{1'b1}};
          end else begin : g_int
            assign e = {(IN_SIGNED != 0) ? a[IN_BITS-1] : 1'b0, a};
          end
          wire [W_BITS-1:0] wv = w2[(p*SIMD + s)*W_BITS +: W_BITS];
          if (W_BITS == 1) begin : g_pm
            assign terms[s*TERMW +: TERMW] = wv[0] ? e : -e;
          end else begin : g_mul
            wire signed [TERMW-1:0] prod = $signed(e) * $signed(wv);
            assign terms[s*TERMW +: TERMW] = prod;
          end
        end
        hwflow_mvau_sumtree #(.N(SIMD), .IW(TERMW), .W(PCW), .REGN(REGN), .PARENT_N(0), .ROOT_REG(1))
          u_sum (.clk(ap_clk), .x(terms), .y(pc3[p*PCW +: PCW]));
      end
    end
  endgenerate

  // Metadata follows the popcount latency (1 + POP_LAT cycles).
  reg               v3, f3, l3;
  reg [NFW-1:0]     n3;
  generate
    if (POP_LAT != 0) begin : g_meta_mid
      localparam integer MDW = NFW + 2;
      reg [POP_LAT-1:0]     vm;
      reg [POP_LAT*MDW-1:0] mm;
      integer k;
      always @(posedge ap_clk) begin
        if (!ap_rst_n) vm[0] <= 1'b0; else vm[0] <= v2;
        mm[0 +: MDW] <= {n2, l2, f2};
        for (k = 1; k < POP_LAT; k = k + 1) begin
          if (!ap_rst_n) vm[k] <= 1'b0; else vm[k] <= vm[k-1];
          mm[k*MDW +: MDW] <= mm[(k-1)*MDW +: MDW];
        end
        {n3, l3, f3} <= mm[(POP_LAT-1)*MDW +: MDW];
      end
      always @(posedge ap_clk) if (!ap_rst_n) v3 <= 1'b0; else v3 <= vm[POP_LAT-1];
      assign v2d = vm[0];
    end else begin : g_meta_direct
      assign v2d = v3;
      always @(posedge ap_clk) begin
        f3 <= f2; l3 <= l2; n3 <= n2;
      end
      always @(posedge ap_clk) if (!ap_rst_n) v3 <= 1'b0; else v3 <= v2;
    end
  endgenerate

  always @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      v1 <= 1'b0;
      v2 <= 1'b0;
    end else begin
      v1 <= go;
      v2 <= v1;
    end
  end

  // ------------------------------------------------------------------ S4: accumulate
  // One threshold and a 1-bit output (a binary activation): the accumulator starts each fold at
  // -T instead of 0, so its sign is the result and no comparator is needed.
  localparam integer BIASED = (THRESH != 0 && NT == 1 && OUT_BITS == 1 && OUT_BIAS == 0) ? 1 : 0;
  wire [PE*ACC_W-1:0] acc4;      // per-PE accumulators (each its own register)
  reg                 r4;        // acc4 holds a finished fold
  wire [OW-1:0]       res;       // the results of a finished fold
  generate
    if (BIASED != 0) begin : g_biased
      localparam integer CW = ((ACC_W > TW) ? ACC_W : TW) + 1;   // holds acc - T
      // Small (NF words): no rom_style, synthesis picks LUTs.  Read as a fold starts.
      reg [PE*TW-1:0] trom [0:NF-1];
      initial $readmemh(THRESH_FILE, trom);
      wire [PE*TW-1:0] tf = trom[n3];
      for (p = 0; p < PE; p = p + 1) begin : g_acc
        wire [PCW-1:0] v = pc3[p*PCW +: PCW];
        wire [TW-1:0] tv = tf[p*TW +: TW];
        // popcounts and thresholds of the XNOR path are unsigned, the integer path's signed
        wire [CW-1:0] pcx;
        if (CW > PCW) begin : g_ext
          assign pcx = {{(CW-PCW){(MB != 0) ? v[PCW-1] : 1'b0}}, v};
        end else begin : g_trunc   // wraps modulo 2^CW: exact while acc - T fits
          assign pcx = v[CW-1:0];
          if (PCW > CW) begin : g_hi
            wire unused_hi = &{1'b0, v[PCW-1:CW]};
          end
        end
        wire [CW-1:0] t = {{(CW-TW){(MB != 0) ? tv[TW-1] : 1'b0}}, tv};
        reg [CW-1:0] acc;
        // first beat: ~T + pc + 1 = pc - T, the +1 as the adder's carry in (the low bit)
        wire [CW:0] sum = {f3 ? ~t : acc, 1'b1} + {pcx, f3};
        always @(posedge ap_clk) if (v3) acc <= sum[CW:1];
        assign res[p] = ~acc[CW-1];
        wire unused_sum = &{1'b0, sum[0]};
      end
      assign acc4 = 0;
      wire unused_acc4 = &{1'b0, acc4};
    end else begin : g_plain
    for (p = 0; p < PE; p = p + 1) begin : g_acc
      wire [ACC_W-1:0] pcx;
      if (ACC_W > PCW) begin : g_ext
        // Popcounts are unsigned, multi-bit partial sums signed.
        wire [PCW-1:0] v = pc3[p*PCW +: PCW];
        assign pcx = {{(ACC_W-PCW){(MB != 0) ? v[PCW-1] : 1'b0}}, v};
      end else if (ACC_W == PCW) begin : g_same
        assign pcx = pc3[p*PCW +: PCW];
      end else begin : g_trunc
        // Caller's ACC_W is smaller than one beat's worst case: the sum wraps modulo
        // 2^ACC_W, which is exact as long as the final accumulator fits.
        assign pcx = pc3[p*PCW +: ACC_W];
        wire unused_hi = &{1'b0, pc3[p*PCW + ACC_W +: PCW - ACC_W]};
      end
      reg [ACC_W-1:0] acc;
      always @(posedge ap_clk) begin
        if (v3) acc <= (f3 ? {ACC_W{1'b0}} : acc) + pcx;
      end
      assign acc4[p*ACC_W +: ACC_W] = acc;
    end
    end
  endgenerate

  always @(posedge ap_clk) begin
    if (!ap_rst_n) r4 <= 1'b0; else r4 <= v3 && l3;
  end

  // ------------------------------------------------------------------ results
  generate
    if (BIASED != 0) begin : g_sign
      // res is the accumulators' signs (S4)
    end else if (THRESH != 0) begin : g_thr
      localparam integer CW = ((ACC_W > TW) ? ACC_W : TW) + 1;
      localparam integer NW_T = PE * NT * TW;         // one threshold ROM word: every PE's NT thresholds
      localparam [31:0] BIAS32 = OUT_BIAS;
      // Small (NF words): no rom_style, synthesis picks LUTs (Yosys rejects
      // rom_style = "distributed" on a ROM).
      reg [NW_T-1:0] trom [0:NF-1];
      initial $readmemh(THRESH_FILE, trom);
      reg [NW_T-1:0] t4;
      always @(posedge ap_clk) if (v3 && l3) t4 <= trom[n3];
      for (p = 0; p < PE; p = p + 1) begin : g_cmp
        wire [ACC_W-1:0] av = acc4[p*ACC_W +: ACC_W];
        wire [CW-1:0] a = {{(CW-ACC_W){(MB != 0) ? av[ACC_W-1] : 1'b0}}, av};
        wire [NT-1:0] ge;
        for (j = 0; j < NT; j = j + 1) begin : g_t
          wire [TW-1:0] tv = t4[(p*NT + j)*TW +: TW];
          // Unsigned popcount vs unsigned threshold, or signed acc vs signed threshold
          // (sign-extending both into CW bits and flipping the top bit makes the
          // signed compare an unsigned one).
          wire [CW-1:0] t = {{(CW-TW){(MB != 0) ? tv[TW-1] : 1'b0}}, tv};
          assign ge[j] = (MB != 0) ? ({~a[CW-1], a[CW-2:0]} >= {~t[CW-1], t[CW-2:0]}) : (a >= t);
        end
        if (NT == 1 && OUT_BITS == 1 && OUT_BIAS == 0) begin : g_bit
          assign res[p*OUT_BITS] = ge[0];
        end else begin : g_levels
          // thresholds rise with j, so the count of those reached is the level
          reg [OUT_BITS-1:0] cnt;
          integer i;
          always @* begin
            cnt = BIAS32[OUT_BITS-1:0];
            for (i = 0; i < NT; i = i + 1) cnt = cnt + {{(OUT_BITS-1){1'b0}}, ge[i]};
          end
          assign res[p*OUT_BITS +: OUT_BITS] = cnt;
        end
      end
    end else begin : g_dot
      localparam [31:0] MW32 = MW;
      localparam [OUT_BITS-1:0] MWC = MW32[OUT_BITS-1:0];
      for (p = 0; p < PE; p = p + 1) begin : g_dp
        wire [ACC_W-1:0] av = acc4[p*ACC_W +: ACC_W];
        if (MB != 0 && OUT_BITS > ACC_W) begin : g_sx      // signed acc, sign-extended
          assign res[p*OUT_BITS +: OUT_BITS] = {{(OUT_BITS-ACC_W){av[ACC_W-1]}}, av};
        end else if (MB != 0) begin : g_acc                // OUT_BITS == ACC_W
          assign res[p*OUT_BITS +: OUT_BITS] = av;
        end else begin : g_bip                             // popcount -> 2*pc - MW
          wire [OUT_BITS-1:0] a = {{(OUT_BITS-ACC_W){1'b0}}, av};
          assign res[p*OUT_BITS +: OUT_BITS] = (a << 1) - MWC;
        end
      end
      wire unused_n3 = &{1'b0, n3};   // fold index only selects thresholds
    end
  endgenerate

  // ------------------------------------------------------------------ output queue
  // Ring of QR entries plus the registered output beat; never overflows thanks to
  // the credit counter, so the write side needs no ready.
  hwflow_outq #(.W(OW), .QR(QR)) outq (
    .ap_clk(ap_clk), .ap_rst_n(ap_rst_n), .wr(r4), .wdata(res),
    .m_axis_tdata(m_axis_tdata), .m_axis_tvalid(m_axis_tvalid), .m_axis_tready(m_axis_tready));
  assign out_fire = m_axis_tvalid && m_axis_tready;
endmodule

// Adder-tree popcount.  Leaves count up to 6 bits (one LUT6 level per output bit);
// inner nodes add two subtrees, each node with its own nets (no flat vector with many
// part-select drivers, which makes some simulators crawl).  All nodes use the root's
// width W; synthesis trims the constant-zero top bits.  Pipelining: a node whose size
// is <= REGN but whose parent's is > REGN registers its output, so every root-to-leaf
// path gets exactly one register when the root is bigger than REGN; ROOT_REG
// registers the root output as well.
/* verilator lint_off DECLFILENAME */  // helper module lives with its only user
module hwflow_mvau_popcount #(
  parameter integer N = 8,
  parameter integer W = 4,          // >= $clog2(N+1)
  parameter integer REGN = 64,
  parameter integer PARENT_N = 0,   // 0 at the root
  parameter integer ROOT_REG = 0,
  // leaves as count tables: for registered inputs (weights XNORed in the ROM's LUTs); on
  // inputs that are themselves logic (XNOR, AND) adder chains, which synthesis merges with it
  parameter integer TABLES = 0
) (
  input  wire         clk,
  // register enables (hold while the data is not valid: the simulator skips the work, the FFs
  // use their CE): en[0] for registers on x's logic, en[1] for the root behind them (a cycle later)
  input  wire [1:0]   en,
  input  wire [N-1:0] x,
  output wire [W-1:0] y
);
/* verilator lint_on DECLFILENAME */
  localparam integer LEAF = 6;
  localparam integer NG   = (N + LEAF - 1) / LEAF;   // leaf groups under this node
  localparam integer NL   = LEAF * (NG / 2);          // bits in the low subtree
  localparam integer NH   = N - NL;
  localparam integer DO_REG =
    (((PARENT_N > REGN) && (N <= REGN)) || ((PARENT_N == 0) && (ROOT_REG != 0))) ? 1 : 0;

  wire [W-1:0] sum;
  generate
    if (N == 1 && W == 1) begin : g_one
      assign sum = x;
`ifdef HWFLOW_MVAU_SIM_COUNTS
    end else if (N <= REGN) begin : g_count
      // In simulation a subtree without registers is one count: the same value in the same
      // cycle, which Verilator compiles 4x faster than the count tables and runs fastest
      // (tests simulate the synthesized form too)
      assign sum = W'($countones(x));
`endif
    end else if (N <= LEAF && TABLES == 0) begin : g_leaf
      reg [W-1:0] s;
      integer i;
      always @* begin
        s = {W{1'b0}};
        for (i = 0; i < N; i = i + 1) s = s + {{(W-1){1'b0}}, x[i]};
      end
      assign sum = s;
    end else if (N <= LEAF) begin : g_leaf_table
      // Tables, not an adder chain: synthesis maps each count bit to one LUT6 (CNV's mvau1
      // by Yosys: 5,955 LUTs instead of 7,014).
      wire [LEAF-1:0] v;
      if (N < LEAF) begin : g_pad
        assign v = {{(LEAF-N){1'b0}}, x};
      end else begin : g_full
        assign v = x;
      end
      // bit b of the number of ones in a 6-bit v is CNTb[v] (one LUT6 each)
      localparam [63:0] CNT0 = 64'h6996966996696996;
      localparam [63:0] CNT1 = 64'h8117177e177e7ee8;
      localparam [63:0] CNT2 = 64'hfee8e880e8808000;
      wire [2:0] c = {CNT2[v], CNT1[v], CNT0[v]};
      if (W > 3) begin : g_wide
        assign sum = {{(W-3){1'b0}}, c};
      end else begin : g_narrow
        assign sum = c[W-1:0];
        if (W < 3) begin : g_unused
          wire unused_c = &{1'b0, c[2:W]};
        end
      end
    end else begin : g_node
      wire [W-1:0] a, b;
      hwflow_mvau_popcount #(.N(NL), .W(W), .REGN(REGN), .PARENT_N(N), .ROOT_REG(0), .TABLES(TABLES)) u_lo (
        .clk(clk), .en(en), .x(x[NL-1:0]), .y(a));
      hwflow_mvau_popcount #(.N(NH), .W(W), .REGN(REGN), .PARENT_N(N), .ROOT_REG(0), .TABLES(TABLES)) u_hi (
        .clk(clk), .en(en), .x(x[N-1:NL]), .y(b));
      assign sum = a + b;
    end

    if (DO_REG != 0) begin : g_reg
      // the root of a tree with registers inside is a cycle behind them
      wire e = (PARENT_N == 0 && N > REGN) ? en[1] : en[0];
      reg [W-1:0] r;
      always @(posedge clk) if (e) r <= sum;
      assign y = r;
    end else begin : g_comb
      assign y = sum;
      wire unused_clk = &{1'b0, clk, en};
    end
  endgenerate
endmodule

// Signed adder tree: N terms of IW bits (two's complement) summed into W bits.
// Same register rule as the popcount: a node of size <= REGN whose parent is bigger
// registers its output (one register on every path), ROOT_REG registers the root.
/* verilator lint_off DECLFILENAME */  // helper module lives with its only user
module hwflow_mvau_sumtree #(
  parameter integer N = 4,
  parameter integer IW = 9,
  parameter integer W = 11,         // >= IW + $clog2(N)
  parameter integer REGN = 16,
  parameter integer PARENT_N = 0,   // 0 at the root
  parameter integer ROOT_REG = 0
) (
  input  wire            clk,
  input  wire [N*IW-1:0] x,
  output wire [W-1:0]    y
);
/* verilator lint_on DECLFILENAME */
  localparam integer NL = N / 2;
  localparam integer NH = N - NL;
  localparam integer DO_REG =
    (((PARENT_N > REGN) && (N <= REGN)) || ((PARENT_N == 0) && (ROOT_REG != 0))) ? 1 : 0;

  wire [W-1:0] sum;
  generate
    if (N == 1) begin : g_leaf
      if (W > IW) begin : g_sx
        assign sum = {{(W-IW){x[IW-1]}}, x};
      end else begin : g_eq
        assign sum = x[W-1:0];
      end
    end else begin : g_node
      wire [W-1:0] a, b;
      hwflow_mvau_sumtree #(.N(NL), .IW(IW), .W(W), .REGN(REGN), .PARENT_N(N), .ROOT_REG(0)) u_lo (
        .clk(clk), .x(x[NL*IW-1:0]), .y(a));
      hwflow_mvau_sumtree #(.N(NH), .IW(IW), .W(W), .REGN(REGN), .PARENT_N(N), .ROOT_REG(0)) u_hi (
        .clk(clk), .x(x[N*IW-1:NL*IW]), .y(b));
      assign sum = a + b;
    end

    if (DO_REG != 0) begin : g_reg
      reg [W-1:0] r;
      always @(posedge clk) r <= sum;
      assign y = r;
    end else begin : g_comb
      assign y = sum;
      wire unused_clk = clk;
    end
  endgenerate
endmodule

`default_nettype wire
