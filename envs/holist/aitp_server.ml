(* aitp-gym's HOL Light server. Loaded into a warm toplevel after hol.ml (and unix.cma).

   Nothing here evaluates OCaml from a request. Requests are one line each, tab-separated, and
   carry s-expressions that this file interprets with fixed code:
     APPLY   <timeout_ms> <goal-sexp> <tactic-sexp>
     PROVE   <timeout_ms> <goal-sexp> <proof-sexp>     (replay a tactic tree with prove)
     THEOREMS                                           (the named theorem database)
     PARSE   <term text>                                (a HOL term quotation, parsed as a term)
     PING
     HELLO                                              (server version and pids; the first request)
   Each reply is one JSON object on one line.

   Process layout: aitp_server (the warm image, started once per machine by server.py) listens on
   a Unix socket and forks one worker per accepted connection; the worker serves that connection
   until EOF and exits. The server exits by itself after idle_s seconds without a live worker.

   Result goals are serialised under the same interval timer as the tactic, and a goal whose
   s-expression exceeds aitp_max_sexp characters is an error ("result goal too large"). If the
   timer fires while HOL Light's printer is running (its formatter is shared state), the reply
   carries "restart":true and the client discards the worker. *)

exception Aitp_timeout;;
exception Aitp_too_large;;
let aitp_max_sexp = ref 1000000;;

(* ------------------------------------------------------------------ JSON output *)
let aitp_json_string s =
  let b = Buffer.create (String.length s + 8) in
  Buffer.add_char b '"';
  String.iter (fun c ->
    match c with
    | '"' -> Buffer.add_string b "\\\""
    | '\\' -> Buffer.add_string b "\\\\"
    | '\n' -> Buffer.add_string b "\\n"
    | '\t' -> Buffer.add_string b "\\t"
    | c when Char.code c < 0x20 -> Buffer.add_string b (Printf.sprintf "\\u%04x" (Char.code c))
    | c -> Buffer.add_char b c) s;
  Buffer.add_char b '"';
  Buffer.contents b;;

(* ------------------------------------------------------------------ s-expressions *)
type aitp_sexp = Atom of string | List of aitp_sexp list;;

let aitp_parse_sexp (s : string) : aitp_sexp =
  let n = String.length s in
  let pos = ref 0 in
  let rec skip () = if !pos < n && (s.[!pos] = ' ') then (incr pos; skip ()) in
  let rec parse () =
    skip ();
    if !pos >= n then failwith "sexp: unexpected end"
    else if s.[!pos] = '(' then begin
      incr pos;
      let items = ref [] in
      let rec loop () =
        skip ();
        if !pos >= n then failwith "sexp: unclosed list"
        else if s.[!pos] = ')' then incr pos
        else (items := parse () :: !items; loop ()) in
      loop ();
      List (List.rev !items)
    end else if s.[!pos] = '"' then begin
      incr pos;
      let b = Buffer.create 16 in
      let rec loop () =
        if !pos >= n then failwith "sexp: unclosed string"
        else if s.[!pos] = '\\' && !pos + 1 < n then (Buffer.add_char b s.[!pos + 1]; pos := !pos + 2; loop ())
        else if s.[!pos] = '"' then incr pos
        else (Buffer.add_char b s.[!pos]; incr pos; loop ()) in
      loop ();
      Atom (Buffer.contents b)
    end else begin
      let start = !pos in
      while !pos < n && s.[!pos] <> ' ' && s.[!pos] <> '(' && s.[!pos] <> ')' do incr pos done;
      if !pos = start then failwith "sexp: unexpected ')'";
      Atom (String.sub s start (!pos - start))
    end in
  let result = parse () in
  skip ();
  if !pos <> n then failwith "sexp: trailing input";
  result;;

(* Types and terms, exactly: every variable and constant carries its type. Written into a Buffer
   (linear time; nested string concatenation is quadratic on deep terms such as big numerals), and
   bounded: past aitp_max_sexp characters serialisation stops with Aitp_too_large. *)
let aitp_add_quoted b s =
  Buffer.add_char b '"';
  String.iter (fun c -> if c = '"' || c = '\\' then Buffer.add_char b '\\'; Buffer.add_char b c) s;
  Buffer.add_char b '"';;

let rec aitp_add_type b ty =
  if is_vartype ty then (Buffer.add_string b "(tyvar "; aitp_add_quoted b (dest_vartype ty); Buffer.add_char b ')')
  else begin
    let name, args = dest_type ty in
    Buffer.add_char b '('; aitp_add_quoted b name;
    List.iter (fun a -> Buffer.add_char b ' '; aitp_add_type b a) args;
    Buffer.add_char b ')'
  end;;

let rec aitp_add_term b tm =
  if Buffer.length b > !aitp_max_sexp then raise Aitp_too_large;
  if is_var tm then begin
    let n, ty = dest_var tm in
    Buffer.add_string b "(v "; aitp_add_type b ty; Buffer.add_char b ' '; aitp_add_quoted b n; Buffer.add_char b ')'
  end else if is_const tm then begin
    let n, ty = dest_const tm in
    Buffer.add_string b "(c "; aitp_add_type b ty; Buffer.add_char b ' '; aitp_add_quoted b n; Buffer.add_char b ')'
  end else if is_comb tm then begin
    let f, x = dest_comb tm in
    Buffer.add_string b "(a "; aitp_add_term b f; Buffer.add_char b ' '; aitp_add_term b x; Buffer.add_char b ')'
  end else begin
    let v, bd = dest_abs tm in
    Buffer.add_string b "(l "; aitp_add_term b v; Buffer.add_char b ' '; aitp_add_term b bd; Buffer.add_char b ')'
  end;;

let aitp_sexp_of_type ty = let b = Buffer.create 64 in aitp_add_type b ty; Buffer.contents b;;
let aitp_sexp_of_term tm = let b = Buffer.create 256 in aitp_add_term b tm; Buffer.contents b;;

let rec aitp_type_of_sexp sx = match sx with
  | List [Atom "tyvar"; Atom n] -> mk_vartype n
  | List (Atom n :: args) -> mk_type (n, map aitp_type_of_sexp args)
  | _ -> failwith "sexp: bad type";;

let rec aitp_term_of_sexp sx = match sx with
  | List [Atom "v"; ty; Atom n] -> mk_var (n, aitp_type_of_sexp ty)
  | List [Atom "c"; ty; Atom n] -> mk_mconst (n, aitp_type_of_sexp ty)
  | List [Atom "a"; f; x] -> mk_comb (aitp_term_of_sexp f, aitp_term_of_sexp x)
  | List [Atom "l"; v; b] -> mk_abs (aitp_term_of_sexp v, aitp_term_of_sexp b)
  | _ -> failwith "sexp: bad term";;

(* A goal: (g ((h "label" TERM) ...) TERM) *)
let aitp_goal_of_sexp sx : goal = match sx with
  | List [Atom "g"; List hyps; concl] ->
      let hyp h = match h with
        | List [Atom "h"; Atom label; t] -> (label, ASSUME (aitp_term_of_sexp t))
        | _ -> failwith "sexp: bad hypothesis" in
      (map hyp hyps, aitp_term_of_sexp concl)
  | _ -> failwith "sexp: bad goal";;

let aitp_sexp_of_goal ((asl, w) : goal) =
  let b = Buffer.create 256 in
  Buffer.add_string b "(g (";
  List.iteri (fun i (l, th) ->
    if i > 0 then Buffer.add_char b ' ';
    Buffer.add_string b "(h "; aitp_add_quoted b l; Buffer.add_char b ' '; aitp_add_term b (concl th);
    Buffer.add_char b ')') asl;
  Buffer.add_string b ") "; aitp_add_term b w; Buffer.add_char b ')';
  Buffer.contents b;;

(* Set while HOL Light's printer runs: an interrupt there may leave its shared formatter dirty. *)
let aitp_printing = ref false;;

let aitp_json_of_goal_with_sexp sexp ((asl, w) : goal) =
  aitp_printing := true;
  let hyps = map (fun (l, th) ->
      "{\"label\":" ^ aitp_json_string l ^ ",\"text\":" ^ aitp_json_string (string_of_term (concl th)) ^ "}") asl in
  let concl_text = string_of_term w in
  aitp_printing := false;
  "{\"sexp\":" ^ aitp_json_string sexp ^ ",\"hyps\":[" ^ String.concat "," hyps
  ^ "],\"concl\":" ^ aitp_json_string concl_text ^ "}";;

let aitp_json_of_goal g = aitp_json_of_goal_with_sexp (aitp_sexp_of_goal g) g;;

(* All s-expressions first (bounded, no printer involved), then the printed texts. *)
let aitp_json_of_goals gs =
  let sexps = map aitp_sexp_of_goal gs in
  String.concat "," (map2 aitp_json_of_goal_with_sexp sexps gs);;

(* ------------------------------------------------------------------ named theorems *)
let aitp_theorem_table : (string, thm) Hashtbl.t =
  let t = Hashtbl.create 4096 in
  List.iter (fun (n, th) -> if not (Hashtbl.mem t n) then Hashtbl.add t n th) !theorems;
  t;;

let aitp_thm name =
  try Hashtbl.find aitp_theorem_table name with Not_found -> failwith ("unknown theorem " ^ name);;

(* The true load order. Every toplevel binding gets a fresh OCaml identifier, and identifier stamps
   are handed out by one increasing counter, so the stamp of the identifier that a name is bound to
   now says when that binding was made. Read once, when this file is loaded (after hol.ml), from the
   toplevel environment: for a name bound several times it is the last binding, the one whose value
   database.ml put in !theorems. *)
let aitp_binding_stamps : (string, int) Hashtbl.t =
  let t = Hashtbl.create 8192 in
  let stamp_of id =
    let u = Ident.unique_name id and n = Ident.name id in
    let k = String.length n in
    if String.length u > k + 1 && String.sub u 0 k = n && u.[k] = '_'
    then (try Some (int_of_string (String.sub u (k + 1) (String.length u - k - 1))) with Failure _ -> None)
    else None in
  let record key path =
    match path with
    | Path.Pident id ->
        (match stamp_of id with Some s when not (Hashtbl.mem t key) -> Hashtbl.add t key s | _ -> ())
    | _ -> () in
  Env.fold_values (fun name path _ () -> record name path) None !Toploop.toplevel_env ();
  (* a theorem inside a toplevel module (Hashek.hashek_thm) takes the module's binding stamp *)
  (try Env.fold_modules (fun name path _ () -> record ("module " ^ name) path) None !Toploop.toplevel_env ()
   with Not_found -> ());
  t;;

let aitp_stamp name =
  let key = match String.index_opt name '.' with Some i -> "module " ^ String.sub name 0 i | None -> name in
  try Hashtbl.find aitp_binding_stamps key with Not_found -> -1;;

(* Term arguments are HOL quotations, parsed in the context of the goal's free variables so that
   `n` means the goal's n:num. *)
let aitp_parse_term_in ((asl, w) : goal) s =
  let frees = itlist (fun (_, th) acc -> union (frees (concl th)) acc) asl (frees w) in
  let env = map (fun v -> let n, ty = dest_var v in (n, pretype_of_type ty)) frees in
  let ptm, rest = (parse_preterm o lex o explode) s in
  if rest <> [] then failwith "term: unparsed input";
  term_of_preterm (retypecheck env ptm);;

(* ------------------------------------------------------------------ the tactic set *)
(* Conversions and conversionals allowed as arguments: a fixed table, never evaluated. *)
let aitp_conv name = match name with
  | "BETA_CONV" -> BETA_CONV | "NUM_REDUCE_CONV" -> NUM_REDUCE_CONV
  | "REAL_RAT_REDUCE_CONV" -> REAL_RAT_REDUCE_CONV | "INT_REDUCE_CONV" -> INT_REDUCE_CONV
  | "SYM_CONV" -> SYM_CONV | "ETA_CONV" -> ETA_CONV | "NNF_CONV" -> NNF_CONV
  | "CNF_CONV" -> CNF_CONV | "DNF_CONV" -> DNF_CONV | "NUM_SIMPLIFY_CONV" -> NUM_SIMPLIFY_CONV
  | "ALL_CONV" -> ALL_CONV
  | _ -> failwith ("unknown conversion " ^ name);;

let aitp_conversional name : conv -> conv = match name with
  | "DEPTH_CONV" -> DEPTH_CONV | "ONCE_DEPTH_CONV" -> ONCE_DEPTH_CONV
  | "TOP_DEPTH_CONV" -> TOP_DEPTH_CONV | "REDEPTH_CONV" -> REDEPTH_CONV
  | "RAND_CONV" -> RAND_CONV | "LAND_CONV" -> LAND_CONV | "RATOR_CONV" -> RATOR_CONV
  | "BINDER_CONV" -> BINDER_CONV | "ABS_CONV" -> ABS_CONV | "BINOP_CONV" -> BINOP_CONV
  | "SUB_CONV" -> SUB_CONV | "I" -> I
  | _ -> failwith ("unknown conversional " ^ name);;

let rec aitp_conv_of_sexp sx = match sx with
  | Atom n -> aitp_conv n
  | List [Atom f; arg] -> aitp_conversional f (aitp_conv_of_sexp arg)
  | _ -> failwith "bad conversion";;

let rec aitp_conversional_of_sexp sx = match sx with
  | Atom n -> aitp_conversional n
  | List (Atom "o" :: fs) -> end_itlist (fun f g -> f o g) (map aitp_conversional_of_sexp fs)
  | _ -> failwith "bad conversional";;

(* HOList's extra tactics, defined on top of HOL Light's. *)
let aitp_raw_pop n : tactic = fun (asl, w) ->
  if n < 0 || n >= length asl then failwith "RAW_POP_TAC: no such assumption"
  else let l, r = chop_list n asl in ALL_TAC (l @ tl r, w);;
let aitp_raw_pop_all : tactic = fun (_, w) -> ALL_TAC ([], w);;

(* Theorem expressions: (thm "NAME") or (rule FN ARG ...), FN from a fixed whitelist (grammar.py's
   THEOREM_FUNCTIONS), ARG a theorem expression, (term "...") or (tyname "..."). The term of SPEC,
   ISPEC and REFL is parsed in the goal's context, like tactic terms; the statement given to a rule
   that proves it (ARITH_RULE, TAUT ...) is parsed on its own, as in HOL Light's sources, so that its
   variables do not take the goal's types. Evaluated inside the tactic's timer. *)
let aitp_max_depth = 16;;

let rec aitp_thm_expr (g : goal) depth sx : thm =
  if depth > aitp_max_depth then failwith "theorem expression nested too deeply" else
  let th a = aitp_thm_expr g (depth + 1) a in
  let term a = match a with List [Atom "term"; Atom s] -> aitp_parse_term_in g s | _ -> failwith "expected a term" in
  let stmt a = match a with
    | List [Atom "term"; Atom s] -> aitp_parse_term_in ([], mk_const ("T", [])) s
    | _ -> failwith "expected a term" in
  let tyname a = match a with List [Atom "tyname"; Atom s] -> s | _ -> failwith "expected a type name" in
  let ths a = match a with
    | List (Atom "thms" :: ns) -> map (aitp_thm_expr g (depth + 1)) ns
    | _ -> failwith "expected a theorem list" in
  let terms a = match a with List (Atom "terms" :: ts) -> map term ts | _ -> failwith "expected a term list" in
  match sx with
  | Atom n -> aitp_thm n
  | List [Atom "thm"; Atom n] -> aitp_thm n
  | List (Atom "rule" :: Atom f :: args) ->
      (match f, args with
       | "GSYM", [a] -> GSYM (th a)
       | "SYM", [a] -> SYM (th a)
       | "CONJUNCT1", [a] -> CONJUNCT1 (th a)
       | "CONJUNCT2", [a] -> CONJUNCT2 (th a)
       | "SPEC_ALL", [a] -> SPEC_ALL (th a)
       | "DENUMERAL", [a] -> DENUMERAL (th a)
       | "EQT_INTRO", [a] -> EQT_INTRO (th a)
       | "EQF_INTRO", [a] -> EQF_INTRO (th a)
       | "EQT_ELIM", [a] -> EQT_ELIM (th a)
       | "EQF_ELIM", [a] -> EQF_ELIM (th a)
       | "GEN_ALL", [a] -> GEN_ALL (th a)
       | "MATCH_MP", [a; b] -> MATCH_MP (th a) (th b)
       | "CONJ", [a; b] -> CONJ (th a) (th b)
       | "TRANS", [a; b] -> TRANS (th a) (th b)
       | "SPEC", [t; a] -> SPEC (term t) (th a)
       | "ISPEC", [t; a] -> ISPEC (term t) (th a)
       | "REFL", [t] -> REFL (term t)
       | "ARITH_RULE", [t] -> ARITH_RULE (stmt t)
       | "REAL_ARITH", [t] -> REAL_ARITH (stmt t)
       | "INT_ARITH", [t] -> INT_ARITH (stmt t)
       | "TAUT", [t] -> TAUT (stmt t)
       | "ITAUT", [t] -> ITAUT (stmt t)
       | "NUMBER_RULE", [t] -> NUMBER_RULE (stmt t)
       | "INTEGER_RULE", [t] -> INTEGER_RULE (stmt t)
       | "SET_RULE", [t] -> SET_RULE (stmt t)
       | "INT_RING", [t] -> INT_RING (stmt t)
       | "REAL_RING", [t] -> REAL_RING (stmt t)
       | "NUM_RING", [t] -> NUM_RING (stmt t)
       | "REAL_FIELD", [t] -> REAL_FIELD (stmt t)
       | "MESON", [l; t] -> MESON (ths l) (stmt t)
       | "SPECL", [ts; a] -> SPECL (terms ts) (th a)
       | "ISPECL", [ts; a] -> ISPECL (terms ts) (th a)
       | "REWRITE_RULE", [l; a] -> REWRITE_RULE (ths l) (th a)
       | "ONCE_REWRITE_RULE", [l; a] -> ONCE_REWRITE_RULE (ths l) (th a)
       | "PURE_REWRITE_RULE", [l; a] -> PURE_REWRITE_RULE (ths l) (th a)
       | "distinctness", [n] -> distinctness (tyname n)
       | "injectivity", [n] -> injectivity (tyname n)
       | "cases", [n] -> cases (tyname n)
       | _ -> failwith ("unknown theorem function " ^ f))
  | _ -> failwith "expected a theorem";;

let aitp_tactic (g : goal) sx : tactic =
  let term a = match a with List [Atom "term"; Atom s] -> aitp_parse_term_in g s | _ -> failwith "expected a term" in
  let thm a = aitp_thm_expr g 0 a in
  let thms a = match a with
    | List (Atom "thms" :: ns) -> map (aitp_thm_expr g 0) ns
    | _ -> failwith "expected a theorem list" in
  match sx with
  | List [Atom "ARITH_TAC"] -> ARITH_TAC
  | List [Atom "REAL_ARITH_TAC"] -> REAL_ARITH_TAC
  | List [Atom "REAL_ARITH_TAC2"] -> REAL_ARITH_TAC
  | List [Atom "EQ_TAC"] -> EQ_TAC
  | List [Atom "ITAUT_TAC"] -> ITAUT_TAC
  | List [Atom "DISCH_TAC"] -> DISCH_TAC
  | List [Atom "MK_COMB_TAC"] -> MK_COMB_TAC
  | List [Atom "ABS_TAC"] -> ABS_TAC
  | List [Atom "DISJ1_TAC"] -> DISJ1_TAC
  | List [Atom "DISJ2_TAC"] -> DISJ2_TAC
  | List [Atom "ANTS_TAC"] -> ANTS_TAC
  | List [Atom "CONJ_TAC"] -> CONJ_TAC
  | List [Atom "REFL_TAC"] -> REFL_TAC
  | List [Atom "GEN_TAC"] -> GEN_TAC
  | List [Atom "STRIP_TAC"] -> STRIP_TAC
  | List [Atom "RAW_POP_ALL_TAC"] -> aitp_raw_pop_all
  | List [Atom "RAW_POP_TAC"; List [Atom "int"; Atom n]] -> aitp_raw_pop (int_of_string n)
  | List [Atom "EXISTS_TAC"; t] -> EXISTS_TAC (term t)
  | List [Atom "X_GEN_TAC"; t] -> X_GEN_TAC (term t)
  | List [Atom "UNDISCH_TAC"; t] -> UNDISCH_TAC (term t)
  | List [Atom "RAW_SUBGOAL_TAC"; t] -> SUBGOAL_THEN (term t) ASSUME_TAC
  | List [Atom "SPEC_TAC"; t1; t2] -> SPEC_TAC (term t1, term t2)
  | List [Atom "DISJ_CASES_TAC"; a] -> DISJ_CASES_TAC (thm a)
  | List [Atom "MATCH_ACCEPT_TAC"; a] -> MATCH_ACCEPT_TAC (thm a)
  | List [Atom "BACKCHAIN_TAC"; a] -> MATCH_MP_TAC (thm a)
  | List [Atom "MP_TAC"; a] -> MP_TAC (thm a)
  | List [Atom "RAW_CONJUNCTS_TAC"; a] -> MAP_EVERY ASSUME_TAC (CONJUNCTS (thm a))
  | List [Atom "ACCEPT_TAC"; a] -> ACCEPT_TAC (thm a)
  | List [Atom "MATCH_MP_TAC"; a] -> MATCH_MP_TAC (thm a)
  | List [Atom "SUBST1_TAC"; a] -> SUBST1_TAC (thm a)
  | List [Atom "CONTR_TAC"; a] -> CONTR_TAC (thm a)
  | List [Atom "X_CHOOSE_TAC"; t; a] -> X_CHOOSE_TAC (term t) (thm a)
  | List [Atom "TRANS_TAC"; a; t] -> TRANS_TAC (thm a) (term t)
  | List [Atom "LABEL_TAC"; List [Atom "label"; Atom l]; a] -> LABEL_TAC l (thm a)
  | List [Atom "REWRITE_TAC"; l] -> REWRITE_TAC (thms l)
  | List [Atom "PURE_REWRITE_TAC"; l] -> PURE_REWRITE_TAC (thms l)
  | List [Atom "PURE_ONCE_REWRITE_TAC"; l] -> PURE_ONCE_REWRITE_TAC (thms l)
  | List [Atom "ONCE_REWRITE_TAC"; l] -> ONCE_REWRITE_TAC (thms l)
  | List [Atom "ASM_REWRITE_TAC"; l] -> ASM_REWRITE_TAC (thms l)
  | List [Atom "SIMP_TAC"; l] -> SIMP_TAC (thms l)
  | List [Atom "ASM_SIMP_TAC"; l] -> ASM_SIMP_TAC (thms l)
  | List [Atom "ASM_MESON_TAC"; l] -> ASM_MESON_TAC (thms l)
  | List [Atom "MESON_TAC"; l] -> MESON_TAC (thms l)
  | List [Atom "ASM_METIS_TAC"; l] -> ASM_METIS_TAC (thms l)
  | List [Atom "CONV_TAC"; List [Atom "conv"; c]] -> CONV_TAC (aitp_conv_of_sexp c)
  | List [Atom "INDUCT_TAC"] -> INDUCT_TAC
  | List [Atom "LIST_INDUCT_TAC"] -> LIST_INDUCT_TAC
  | List [Atom "COND_CASES_TAC"] -> COND_CASES_TAC
  | List [Atom "AP_TERM_TAC"] -> AP_TERM_TAC
  | List [Atom "AP_THM_TAC"] -> AP_THM_TAC
  | List [Atom "BETA_TAC"] -> BETA_TAC
  | List [Atom "BINOP_TAC"] -> BINOP_TAC
  | List [Atom "ASM_ARITH_TAC"] -> ASM_ARITH_TAC
  | List [Atom "INT_ARITH_TAC"] -> INT_ARITH_TAC
  | List [Atom "ASM_INT_ARITH_TAC"] -> ASM_INT_ARITH_TAC
  | List [Atom "ASM_REAL_ARITH_TAC"] -> ASM_REAL_ARITH_TAC
  | List [Atom "INTEGER_TAC"] -> INTEGER_TAC
  | List [Atom "NUMBER_TAC"] -> NUMBER_TAC
  | List [Atom "DIMINDEX_TAC"] -> DIMINDEX_TAC
  | List [Atom "LET_TAC"] -> LET_TAC
  | List [Atom "NUM_REDUCE_TAC"] -> NUM_REDUCE_TAC
  | List [Atom "SET_TAC"; l] -> SET_TAC (thms l)
  | List [Atom "METIS_TAC"; l] -> METIS_TAC (thms l)
  | List [Atom "ONCE_ASM_REWRITE_TAC"; l] -> ONCE_ASM_REWRITE_TAC (thms l)
  | List [Atom "PURE_ASM_REWRITE_TAC"; l] -> PURE_ASM_REWRITE_TAC (thms l)
  | List [Atom "ONCE_ASM_SIMP_TAC"; l] -> ONCE_ASM_SIMP_TAC (thms l)
  | List [Atom "IMP_REWRITE_TAC"; l] -> IMP_REWRITE_TAC (thms l)
  | List [Atom "ASM_CASES_TAC"; t] -> ASM_CASES_TAC (term t)
  | List [Atom "BOOL_CASES_TAC"; t] -> BOOL_CASES_TAC (term t)
  | List [Atom "ABBREV_TAC"; t] -> ABBREV_TAC (term t)
  | List [Atom "WF_INDUCT_TAC"; t] -> WF_INDUCT_TAC (term t)
  | List [Atom "ASSUME_TAC"; a] -> ASSUME_TAC (thm a)
  | List [Atom "STRIP_ASSUME_TAC"; a] -> STRIP_ASSUME_TAC (thm a)
  | List [Atom "STRUCT_CASES_TAC"; a] -> STRUCT_CASES_TAC (thm a)
  | List [Atom "SUBST_ALL_TAC"; a] -> SUBST_ALL_TAC (thm a)
  | List [Atom "CHOOSE_TAC"; a] -> CHOOSE_TAC (thm a)
  | List [Atom "EXPAND_TAC"; List [Atom "label"; Atom v]] -> EXPAND_TAC v
  | List [Atom "GEN_REWRITE_TAC"; List [Atom "conversional"; c]; l] ->
      GEN_REWRITE_TAC (aitp_conversional_of_sexp c) (thms l)
  | _ -> failwith "unknown tactic form";;

(* ------------------------------------------------------------------ running with a deadline *)
(* HOL Light's syntax extension lexes all-caps names such as ITIMER_REAL as values, so the
   constructor cannot be written; ITIMER_REAL is the first constructor of Unix.interval_timer. *)
let aitp_itimer_real : Unix.interval_timer = Obj.magic 0;;

let aitp_with_timeout ms f =
  let old = Sys.signal Sys.sigalrm (Sys.Signal_handle (fun _ -> raise Aitp_timeout)) in
  let stop () =
    ignore (Unix.setitimer aitp_itimer_real { Unix.it_interval = 0.0; Unix.it_value = 0.0 });
    Sys.set_signal Sys.sigalrm old in
  ignore (Unix.setitimer aitp_itimer_real { Unix.it_interval = 0.0; Unix.it_value = float_of_int ms /. 1000.0 });
  try let r = f () in stop (); r with e -> stop (); raise e;;

let aitp_error_json e =
  let printing = !aitp_printing in
  aitp_printing := false;
  let msg = match e with
    | Failure s -> s
    | Aitp_timeout -> "timeout"
    | Aitp_too_large -> "result goal too large: its s-expression exceeds " ^ string_of_int !aitp_max_sexp
                        ^ " characters"
    | Stack_overflow -> "stack overflow"
    | Out_of_memory -> "out of memory"
    | e -> Printexc.to_string e in
  let restart = if printing then ",\"restart\":true" else "" in
  if e = Aitp_timeout then "{\"status\":\"timeout\"" ^ restart ^ "}"
  else "{\"status\":\"error\",\"message\":" ^ aitp_json_string msg ^ restart ^ "}";;

(* The tactic and the serialisation of its result run under one timer. *)
let aitp_apply ms goal_s tac_s =
  try
    let g = aitp_goal_of_sexp (aitp_parse_sexp goal_s) in
    let tac_sx = aitp_parse_sexp tac_s in
    aitp_with_timeout ms (fun () ->
      let (_, subgoals, _) = aitp_tactic g tac_sx g in
      if subgoals = [] then "{\"status\":\"proved\"}"
      else "{\"status\":\"ok\",\"goals\":[" ^ aitp_json_of_goals subgoals ^ "]}")
  with e -> aitp_error_json e;;

(* A proof: (p TACTIC-SEXP CHILD ...). Replayed with HOL Light's own prove on the goal. *)
let aitp_prove ms goal_s proof_s =
  try
    let (asl, w) as g = aitp_goal_of_sexp (aitp_parse_sexp goal_s) in
    if asl <> [] then failwith "PROVE: only goals without hypotheses";
    let rec build sx = match sx with
      | List (Atom "p" :: tac :: []) -> (fun gl -> aitp_tactic gl tac gl)
      | List (Atom "p" :: tac :: children) ->
          (fun gl -> ((fun gl -> aitp_tactic gl tac gl) THENL (map build children)) gl)
      | _ -> failwith "bad proof" in
    let th = aitp_with_timeout ms (fun () -> prove (w, build (aitp_parse_sexp proof_s))) in
    if hyp th = [] && aconv (concl th) w then "{\"status\":\"proved\"}"
    else (ignore g; "{\"status\":\"error\",\"message\":\"the proof proves a different theorem\"}")
  with e -> aitp_error_json e;;

let aitp_theorems_json () =
  "[" ^ String.concat "," (map (fun (n, th) ->
      "{\"name\":" ^ aitp_json_string n ^ ",\"text\":" ^ aitp_json_string (string_of_term (concl th))
      ^ ",\"hyps\":" ^ string_of_int (length (hyp th))
      ^ ",\"stamp\":" ^ string_of_int (aitp_stamp n)
      ^ ",\"sexp\":" ^ aitp_json_string (aitp_sexp_of_goal ([], concl th)) ^ "}") !theorems) ^ "]";;

let aitp_parse_json s =
  try
    let tm = aitp_parse_term_in ([], mk_const ("T", [])) s in
    if type_of tm <> bool_ty then failwith "not a proposition (type bool)";
    "{\"status\":\"ok\",\"goals\":[" ^ aitp_json_of_goal ([], tm) ^ "]}"
  with e -> aitp_error_json e;;

(* ------------------------------------------------------------------ serving *)
let aitp_split_tabs line = String.split_on_char '\t' line;;

(* Set by aitp_server before it forks; a worker reports them in its HELLO reply. *)
let aitp_server_pid = ref 0;;
let aitp_server_tag = ref "";;
let aitp_server_started = ref 0.0;;
let aitp_server_idle = ref 0.0;;
let aitp_server_workers = ref 0;;

let aitp_hello () =
  "{\"status\":\"hello\",\"version\":" ^ aitp_json_string !aitp_server_tag
  ^ ",\"hol_version\":" ^ aitp_json_string hol_version
  ^ ",\"pid\":" ^ string_of_int (Unix.getpid ())
  ^ ",\"server_pid\":" ^ string_of_int !aitp_server_pid
  ^ ",\"workers\":" ^ string_of_int !aitp_server_workers
  ^ ",\"uptime\":" ^ Printf.sprintf "%.1f" (Unix.gettimeofday () -. !aitp_server_started)
  ^ ",\"idle_timeout\":" ^ Printf.sprintf "%.1f" !aitp_server_idle
  ^ ",\"theorems\":" ^ string_of_int (length !theorems) ^ "}";;

let aitp_serve ic oc =
  let reply s = output_string oc s; output_char oc '\n'; flush oc in
  try while true do
    let line = input_line ic in
    let answer = match aitp_split_tabs line with
      | ["APPLY"; ms; g; t] -> aitp_apply (int_of_string ms) g t
      | ["PROVE"; ms; g; p] -> aitp_prove (int_of_string ms) g p
      | ["THEOREMS"] -> aitp_theorems_json ()
      | ["PARSE"; s] -> aitp_parse_json s
      | ["PING"] -> "{\"status\":\"pong\",\"pid\":" ^ string_of_int (Unix.getpid ()) ^ "}"
      | ["HELLO"] -> aitp_hello ()
      | _ -> "{\"status\":\"error\",\"message\":\"bad request\"}" in
    reply answer
  done with End_of_file -> ();;

(* As with ITIMER_REAL above, the all-caps constructors PF_UNIX, SOCK_STREAM and WNOHANG cannot be
   written under HOL Light's lexer. They are the first constant constructors of their types (0);
   ADDR_UNIX s is the first non-constant constructor, a block with tag 0 and one field, the same
   representation as a ref. *)
let aitp_pf_unix : Unix.socket_domain = Obj.magic 0;;
let aitp_sock_stream : Unix.socket_type = Obj.magic 0;;
let aitp_wnohang : Unix.wait_flag = Obj.magic 0;;
let aitp_addr_unix (path : string) : Unix.sockaddr = Obj.magic (ref path);;

(* The warm image: listen on sock_path, fork one worker per connection, exit after idle_s seconds
   in which no worker was alive (a worker lives exactly as long as its client's connection). *)
let aitp_server sock_path tag idle_s =
  aitp_server_pid := Unix.getpid ();
  aitp_server_tag := tag;
  aitp_server_started := Unix.gettimeofday ();
  aitp_server_idle := idle_s;
  (try Unix.unlink sock_path with Unix.Unix_error _ -> ());
  let lfd = Unix.socket aitp_pf_unix aitp_sock_stream 0 in
  Unix.bind lfd (aitp_addr_unix sock_path);
  Unix.listen lfd 64;
  let ino = (Unix.stat sock_path).Unix.st_ino in
  let children : (int, unit) Hashtbl.t = Hashtbl.create 16 in
  let last = ref (Unix.gettimeofday ()) in
  let rec reap () =
    let pid = try fst (Unix.waitpid [aitp_wnohang] (-1)) with Unix.Unix_error _ -> 0 in
    if pid > 0 then (Hashtbl.remove children pid; last := Unix.gettimeofday (); reap ()) in
  let readable t = try let r, _, _ = Unix.select [lfd] [] [] t in r <> [] with Unix.Unix_error _ -> false in
  let quit () =
    (try if (Unix.stat sock_path).Unix.st_ino = ino then Unix.unlink sock_path with Unix.Unix_error _ -> ());
    exit 0 in
  while true do
    let ready = readable 0.5 in
    reap ();
    if ready then begin
      match (try Some (fst (Unix.accept lfd)) with Unix.Unix_error _ -> None) with
      | None -> ()
      | Some fd ->
          aitp_server_workers := Hashtbl.length children + 1;
          (match (try Unix.fork () with Unix.Unix_error _ -> -1) with
           | 0 ->
               Unix.close lfd;
               aitp_serve (Unix.in_channel_of_descr fd) (Unix.out_channel_of_descr fd);
               exit 0
           | -1 -> Unix.close fd
           | pid -> Unix.close fd; Hashtbl.replace children pid (); last := Unix.gettimeofday ())
    end else if Hashtbl.length children = 0 && Unix.gettimeofday () -. !last > idle_s && not (readable 0.0) then
      quit ()
  done;;
