// hwflow_dwc: AXI-Stream width converter for a continuous bit stream.
//
// Input beats of IW bits are appended LSB-first to a bit stream; output beats take
// the next OW bits.  IW and OW are arbitrary (they need not divide each other); the
// caller guarantees that the bits per image are a multiple of both.  In every mode
// the converter sustains input min(1, OW/IW) and output min(1, IW/OW) beats/cycle,
// s_axis_tready is a function of internal state only (never of m_axis_tready), and
// m_axis_tdata/tvalid come from registers.  Four structures, chosen by generate:
//   IW == OW      wire pass-through (no state, no latency);
//   IW = K*OW     shift register of one input word plus a one-word holding register;
//   OW = K*IW     shift-in register plus the output register;
//   otherwise     a bit queue (below), which costs more logic.
//
// Bit queue: register `q` of C = IW + OW + max(IW, OW) bits holding `cnt` valid bits
// at the bottom (bits above cnt are kept zero, so an insert is a plain OR).  That
// capacity lets both flags be registered functions of `cnt` alone at full rate:
//   * IW < OW: cnt never exceeds OW + IW - g < C - IW, so input is always accepted;
//   * IW > OW: input is accepted whenever cnt <= OW + IW, which keeps cnt >= OW,
//     so an output beat is available every cycle.
// Every fill level is a multiple of G = gcd(IW, OW), so the insert position is kept in
// units of G and the barrel shifter has only log2(C/G) stages.
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
    end else if (IW > OW && IW % OW == 0) begin : g_down
      // Divisible downsizing: shift register `a` emits K = IW/OW beats from one input
      // word; `b` holds the next word so `a` reloads in the cycle its last beat leaves
      // (one output per cycle) while s_axis_tready = !b_full stays registered.
      localparam integer K  = IW / OW;
      localparam integer KW = $clog2(K + 1);
      localparam [31:0] K32 = K;
      localparam [KW-1:0] KC = K32[KW-1:0];
      localparam [KW-1:0] ONE = {{(KW-1){1'b0}}, 1'b1};

      reg [IW-1:0] a, b;
      reg [KW-1:0] left;      // beats still to send from `a`
      reg          avalid, bfull;

      wire in_fire  = s_axis_tvalid && !bfull;
      wire out_fire = avalid && m_axis_tready;
      wire a_free   = !avalid || (out_fire && left == ONE);
      wire reload   = a_free && (bfull || in_fire);

      always @(posedge ap_clk) begin
        if (reload)        a <= bfull ? b : s_axis_tdata;
        else if (out_fire) a <= a >> OW;
        if (in_fire && (bfull || !a_free)) b <= s_axis_tdata;
      end

      always @(posedge ap_clk) begin
        if (!ap_rst_n) begin
          left   <= {KW{1'b0}};
          avalid <= 1'b0;
          bfull  <= 1'b0;
        end else begin
          if (reload) begin
            left   <= KC;
            avalid <= 1'b1;
          end else if (out_fire) begin
            left   <= left - ONE;
            avalid <= (left != ONE);
          end
          // b is filled when the word cannot go straight into a, emptied by a reload.
          if (in_fire && !a_free) bfull <= 1'b1;
          else if (reload)        bfull <= 1'b0;
        end
      end

      assign m_axis_tdata  = a[OW-1:0];
      assign m_axis_tvalid = avalid;
      assign s_axis_tready = !bfull;
    end else if (OW > IW && OW % IW == 0) begin : g_up
      // Divisible upsizing: K = OW/IW input words are shifted into `sr` from the top
      // (so the first word ends at the bottom); the K-th word goes straight into the
      // output register with them, so a steady input stream is never stalled.
      // s_axis_tready = !(sr full) is registered state only.
      localparam integer K  = OW / IW;
      localparam integer KW = $clog2(K + 1);
      localparam [31:0] K32  = K;
      localparam [31:0] KM32 = K - 1;
      localparam [KW-1:0] KC  = K32[KW-1:0];
      localparam [KW-1:0] KM1 = KM32[KW-1:0];

      reg [OW-1:0] sr, o;
      reg [KW-1:0] got;       // words collected in sr (K = full, waiting for o)
      reg          ovalid;

      wire in_fire  = s_axis_tvalid && (got != KC);
      wire o_free   = !ovalid || m_axis_tready;
      wire [OW-1:0] shifted = {s_axis_tdata, sr[OW-1:IW]};
      wire complete = in_fire && (got == KM1);      // this word completes a beat
      wire move_sr  = (got == KC) && o_free;        // a full sr waited for o
      wire load_o   = (complete && o_free) || move_sr;

      always @(posedge ap_clk) begin
        if (in_fire) sr <= shifted;
        if (load_o)  o  <= move_sr ? sr : shifted;
      end

      always @(posedge ap_clk) begin
        if (!ap_rst_n) begin
          got    <= {KW{1'b0}};
          ovalid <= 1'b0;
        end else begin
          if (move_sr || (complete && o_free)) got <= {KW{1'b0}};
          else if (in_fire)                    got <= got + 1'b1;
          if (load_o)      ovalid <= 1'b1;
          else if (o_free) ovalid <= 1'b0;
        end
      end

      assign m_axis_tdata  = o;
      assign m_axis_tvalid = ovalid;
      assign s_axis_tready = (got != KC);
    end else begin : g_conv
      // General case (widths not multiples of each other): a bit queue.
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
