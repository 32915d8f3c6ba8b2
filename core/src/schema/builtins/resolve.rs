//! Function and operator resolution, step by step as PostgreSQL's parser does it
//! (`func_get_detail`, `oper`, `func_select_candidate` in `parse_func.c` and `parse_oper.c`).

use std::fmt;

use super::coerce::{Pathway, can_coerce_all, pathway, resolve_generics};
use super::generated::{FUNCTIONS, OPERATORS, TYPES, oid};
use super::table::{CastContext, Function, FunctionKind, NONE, Oid, Operator, TypeKind};
use super::types::{SqlType, row};

/// One argument or operand of a call, as the parser sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arg {
    /// an expression of a known type (a column, a cast `$1::int`, a typed literal like `1` or
    /// `interval '1 day'`, another call's result)
    Typed(SqlType),
    /// an untyped literal: a quoted string or `NULL` (PostgreSQL's `unknown` constant)
    Literal,
    /// a `$n` parameter whose type nothing fixed yet
    Param,
}

impl Arg {
    /// The argument's type: `unknown` for a literal or an open parameter.
    pub fn sql_type(&self) -> SqlType {
        match self {
            Arg::Typed(t) => t.clone(),
            Arg::Literal | Arg::Param => SqlType::Unknown,
        }
    }
}

impl From<SqlType> for Arg {
    fn from(t: SqlType) -> Arg {
        Arg::Typed(t)
    }
}

/// A resolved function call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionCall {
    /// the function chosen; `None` when the call is a type coercion written as a function
    /// (`text(x)`, `int8('42')`, `date(ts)` when no function matches exactly)
    pub function: Option<&'static Function>,
    /// per argument, the type it is coerced to: a `$n` or literal there takes this type.
    /// An argument declared `"any"` keeps its own type, so an open `$n` there stays
    /// [`SqlType::Unknown`]: PostgreSQL cannot type it either ("could not determine data type
    /// of parameter"), it needs a cast.
    pub args: Vec<SqlType>,
    /// the result type, polymorphism resolved (for a set-returning function: of each row)
    pub returns: SqlType,
}

impl FunctionCall {
    /// The function is strict (returns NULL for a NULL argument); a coercion is.
    pub fn strict(&self) -> bool {
        self.function.is_none_or(Function::strict)
    }

    /// The function returns a set of rows.
    pub fn returns_set(&self) -> bool {
        self.function.is_some_and(Function::returns_set)
    }

    /// Normal, aggregate or window function; a coercion is normal.
    pub fn kind(&self) -> FunctionKind {
        self.function.map_or(FunctionKind::Normal, Function::kind)
    }
}

/// A resolved operator call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorCall {
    /// the operator chosen
    pub operator: &'static Operator,
    /// the type the left operand is coerced to (`None` for a prefix operator)
    pub left: Option<SqlType>,
    /// the type the right operand is coerced to
    pub right: SqlType,
    /// the result type, polymorphism resolved
    pub returns: SqlType,
}

/// Why a call does not resolve; the messages follow PostgreSQL's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResolveError {
    /// no candidate accepts the arguments; `known_name` is false when the table has no
    /// function (or operator) of that name at all
    NotFound {
        /// the call as PostgreSQL prints it: `function lower(integer)`, `operator integer + text`
        call: String,
        /// whether any built-in function or operator has the name
        known_name: bool,
    },
    /// several candidates fit equally well: PostgreSQL asks for a cast
    Ambiguous {
        /// the call
        call: String,
        /// the candidates left, as signatures
        candidates: Vec<String>,
    },
    /// the candidate is polymorphic and its types cannot be resolved from the arguments
    Polymorphic {
        /// the call
        call: String,
        /// PostgreSQL's reason
        reason: String,
    },
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolveError::NotFound { call, .. } => write!(f, "{call} does not exist"),
            ResolveError::Ambiguous { call, candidates } => {
                write!(
                    f,
                    "{call} is not unique: it could be {}; add a cast",
                    candidates.join(" or ")
                )
            }
            ResolveError::Polymorphic { call, reason } => write!(f, "{call}: {reason}"),
        }
    }
}

impl std::error::Error for ResolveError {}

/// A call's candidate: a function with its effective argument types (variadic spread,
/// defaults counted), or an operator with its operand types.
struct Candidate<T: 'static> {
    /// `None`: several functions with the same effective arguments; choosing it is ambiguous
    item: Option<&'static T>,
    args: Vec<Oid>,
    /// how many trailing arguments come from defaults
    defaulted: usize,
    /// how many call arguments the variadic parameter took
    variadic_args: usize,
}

fn builtins(args: &[Oid]) -> Vec<SqlType> {
    args.iter().map(|&o| SqlType::Builtin(o)).collect()
}

fn type_list(types: &[SqlType]) -> String {
    types
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn signature(f: &Function) -> String {
    format!("{}({})", f.name, type_list(&builtins(f.args)))
}

fn functions_named(name: &str) -> &'static [Function] {
    let start = FUNCTIONS.partition_point(|f| f.name < name);
    let end = FUNCTIONS.partition_point(|f| f.name <= name);
    &FUNCTIONS[start..end]
}

fn operators_named(name: &str) -> &'static [Operator] {
    let start = OPERATORS.partition_point(|o| o.name < name);
    let end = OPERATORS.partition_point(|o| o.name <= name);
    &OPERATORS[start..end]
}

/// Resolves the call `name(args)` to a built-in function, as PostgreSQL does: an exact
/// match; else a type coercion written as a function call; else the candidates whose
/// argument types the arguments implicitly coerce to, narrowed by exact matches, preferred
/// types, the categories of unknown arguments and finally the known arguments' type
/// (<https://www.postgresql.org/docs/current/typeconv-func.html>). Variadic functions spread
/// their last argument; trailing arguments with defaults may be left out.
///
/// `name` is the function's name as PostgreSQL stores it (identifiers folded to lower case,
/// no schema). `count(*)` is `count` with no arguments.
///
/// ```
/// use pgready_core::schema::builtins::{Arg, SqlType, oid, resolve_function};
///
/// let call = resolve_function("sum", &[Arg::Typed(SqlType::Builtin(oid::INT4))]).unwrap();
/// assert_eq!(call.returns, SqlType::Builtin(oid::INT8));
/// let call = resolve_function("lower", &[Arg::Param]).unwrap();
/// assert_eq!(call.args, [SqlType::Builtin(oid::TEXT)]);
/// ```
pub fn resolve_function(name: &str, args: &[Arg]) -> Result<FunctionCall, ResolveError> {
    let inputs: Vec<SqlType> = args.iter().map(Arg::sql_type).collect();
    let call = || format!("function {name}({})", type_list(&inputs));
    let named = functions_named(name);
    let candidates = function_candidates(named, inputs.len());

    // an exact match (with no arguments: the first candidate)
    let exact = candidates.iter().position(|c| {
        inputs
            .iter()
            .zip(&c.args)
            .all(|(input, &declared)| input.is(declared))
    });
    let chosen = match exact {
        Some(i) => candidates.into_iter().nth(i),
        None => {
            if let Some(coercion) = coercion_call(name, args, &inputs) {
                return Ok(coercion);
            }
            let matching: Vec<Candidate<Function>> = candidates
                .into_iter()
                .filter(|c| {
                    can_coerce_all(
                        &inputs,
                        &builtins(&c.args[..inputs.len()]),
                        CastContext::Implicit,
                    )
                })
                .collect();
            match matching.len() {
                0 => None,
                1 => matching.into_iter().next(),
                _ => {
                    let signatures = || {
                        matching
                            .iter()
                            .filter_map(|c| c.item.map(signature))
                            .collect::<Vec<_>>()
                    };
                    let candidates = signatures();
                    match select_candidate(&inputs, matching) {
                        Some(c) => Some(c),
                        None => {
                            return Err(ResolveError::Ambiguous {
                                call: call(),
                                candidates,
                            });
                        }
                    }
                }
            }
        }
    };
    let Some(chosen) = chosen else {
        return Err(ResolveError::NotFound {
            call: call(),
            known_name: !named.is_empty(),
        });
    };
    let Some(function) = chosen.item else {
        return Err(ResolveError::Ambiguous {
            call: call(),
            candidates: named
                .iter()
                .filter(|f| {
                    function_candidates(std::slice::from_ref(*f), inputs.len())
                        .iter()
                        .any(|c| c.args == chosen.args)
                })
                .map(signature)
                .collect(),
        });
    };
    debug_assert!(chosen.variadic_args <= inputs.len());
    // defaulted arguments take part in the polymorphic resolution with their declared types
    let mut actuals = inputs.clone();
    actuals.extend(builtins(&chosen.args[inputs.len()..]));
    let mut declared = builtins(&chosen.args);
    let returns = resolve_generics(&actuals, &mut declared, SqlType::Builtin(function.returns))
        .map_err(|reason| ResolveError::Polymorphic {
            call: call(),
            reason,
        })?;
    Ok(FunctionCall {
        function: Some(function),
        args: coerced(&inputs, &declared),
        returns,
    })
}

/// The candidates of `functions` for a call with `nargs` arguments, as
/// `FuncnameGetCandidates` lists them: variadic ones spread to `nargs`, ones with defaults
/// when the call leaves them out; of two with the same effective arguments the one that is
/// not variadic wins, else the pair is ambiguous.
fn function_candidates(functions: &'static [Function], nargs: usize) -> Vec<Candidate<Function>> {
    let mut out: Vec<Candidate<Function>> = Vec::new();
    for f in functions {
        let declared = f.args.len();
        let variadic = f.variadic != 0 && declared <= nargs;
        let defaults = declared > nargs;
        if defaults && nargs + f.defaults() < declared {
            continue;
        }
        if declared != nargs && !variadic && !defaults {
            continue;
        }
        let mut args: Vec<Oid> = f.args.to_vec();
        let mut variadic_args = 0;
        if variadic {
            args.truncate(declared - 1);
            variadic_args = nargs - declared + 1;
            args.extend(std::iter::repeat_n(f.variadic, variadic_args));
        }
        let candidate = Candidate {
            item: Some(f),
            defaulted: if defaults { declared - nargs } else { 0 },
            args,
            variadic_args,
        };
        let compared = candidate.args.len() - candidate.defaulted;
        let same = out.iter().position(|previous| {
            previous.args.len() - previous.defaulted == compared
                && previous.args[..compared] == candidate.args[..compared]
        });
        match same {
            None => out.push(candidate),
            Some(i) => {
                if variadic && out[i].variadic_args == 0 {
                    // keep the earlier, non-variadic one
                } else if !variadic && out[i].variadic_args > 0 {
                    out[i] = candidate;
                } else {
                    out[i].item = None;
                }
            }
        }
    }
    out
}

/// `text(x)`, `int8('42')`: a call of one argument named after a type is a coercion when no
/// function matches exactly and the argument is a literal, or converts to the type by a
/// binary-compatible or I/O cast (a cast function is found as a function of that name).
fn coercion_call(name: &str, args: &[Arg], inputs: &[SqlType]) -> Option<FunctionCall> {
    let [arg] = args else { return None };
    let target = TYPES
        .iter()
        .find(|t| t.typname == name && t.kind != TypeKind::Pseudo)?;
    let target = SqlType::Builtin(target.oid);
    let source = &inputs[0];
    let coercion = match arg {
        Arg::Literal => true,
        _ => match pathway(&target, source, CastContext::Explicit) {
            Pathway::Relabel => true,
            Pathway::ViaIo => {
                !(source.is_composite() || source.is(oid::RECORD)) || target.category() != b'S'
            }
            _ => false,
        },
    };
    coercion.then(|| FunctionCall {
        function: None,
        args: vec![if *source == SqlType::Unknown {
            target.clone()
        } else {
            source.clone()
        }],
        returns: target,
    })
}

/// The types the arguments are coerced to: the declared type, or the argument's own where
/// the declared one is `"any"` or polymorphic (a known type passes as it is).
fn coerced(inputs: &[SqlType], declared: &[SqlType]) -> Vec<SqlType> {
    inputs
        .iter()
        .zip(declared)
        .map(|(input, declared)| {
            let open = declared.is(oid::ANY)
                || super::coerce::is_polymorphic(declared)
                || *declared == SqlType::Unknown;
            if open {
                input.clone()
            } else {
                declared.clone()
            }
        })
        .collect()
}

/// `func_select_candidate`: the one best candidate of several that all accept the inputs,
/// or `None` (ambiguous).
fn select_candidate<T>(inputs: &[SqlType], candidates: Vec<Candidate<T>>) -> Option<Candidate<T>> {
    let nargs = inputs.len();
    let unknowns = inputs.iter().filter(|t| **t == SqlType::Unknown).count();
    let category_preferred = |o: Oid| row(o).map_or((b'U', false), |t| (t.category, t.preferred));

    // keep those with the most exact matches (all if none match)
    let exact = |c: &Candidate<T>| {
        (0..nargs)
            .filter(|&i| inputs[i] != SqlType::Unknown && inputs[i].is(c.args[i]))
            .count()
    };
    let candidates = keep_best(candidates, exact);
    if candidates.len() == 1 {
        return candidates.into_iter().next();
    }

    // keep those with exact or preferred types (of the input's category) where coercion is needed
    let preferred = |c: &Candidate<T>| {
        (0..nargs)
            .filter(|&i| {
                inputs[i] != SqlType::Unknown && {
                    let (category, preferred) = category_preferred(c.args[i]);
                    inputs[i].is(c.args[i]) || (preferred && category == inputs[i].category())
                }
            })
            .count()
    };
    let mut candidates = keep_best(candidates, preferred);
    if candidates.len() == 1 {
        return candidates.into_iter().next();
    }
    if unknowns == 0 {
        return None;
    }

    // unknown arguments: pick each position's category (string if any candidate takes one,
    // else the one all agree on) and prefer candidates taking the category's preferred type
    let mut slots: Vec<Option<(u8, bool)>> = vec![None; nargs];
    let mut resolved = true;
    for i in 0..nargs {
        if inputs[i] != SqlType::Unknown {
            continue;
        }
        let mut slot: Option<(u8, bool)> = None;
        let mut conflict = false;
        for c in &candidates {
            let (category, preferred) = category_preferred(c.args[i]);
            match &mut slot {
                None => slot = Some((category, preferred)),
                Some((cat, pref)) if *cat == category => *pref |= preferred,
                Some(s) => {
                    if category == b'S' {
                        *s = (category, preferred);
                    } else {
                        conflict = true;
                    }
                }
            }
        }
        if conflict && slot.is_some_and(|(cat, _)| cat != b'S') {
            resolved = false;
            break;
        }
        slots[i] = slot;
    }
    if resolved {
        let keep = |c: &Candidate<T>| {
            (0..nargs).all(|i| match slots[i] {
                None => true,
                Some((category, has_preferred)) => {
                    let (cat, preferred) = category_preferred(c.args[i]);
                    cat == category && (!has_preferred || preferred)
                }
            })
        };
        if candidates.iter().any(keep) {
            candidates.retain(keep);
        }
        if candidates.len() == 1 {
            return candidates.into_iter().next();
        }
    }

    // last gasp: all known inputs have one type; assume the unknowns have it too
    if unknowns < nargs {
        let mut known = inputs.iter().filter(|t| **t != SqlType::Unknown);
        let first = known.next()?.clone();
        if known.all(|t| *t == first) {
            let assumed = vec![first; nargs];
            let mut fitting = candidates.into_iter().filter(|c| {
                can_coerce_all(&assumed, &builtins(&c.args[..nargs]), CastContext::Implicit)
            });
            let one = fitting.next()?;
            if fitting.next().is_none() {
                return Some(one);
            }
        }
    }
    None
}

/// The candidates scoring highest (all of them when every score is 0).
fn keep_best<T>(
    candidates: Vec<Candidate<T>>,
    score: impl Fn(&Candidate<T>) -> usize,
) -> Vec<Candidate<T>> {
    let best = candidates.iter().map(&score).max().unwrap_or(0);
    candidates
        .into_iter()
        .filter(|c| score(c) == best)
        .collect()
}

/// Resolves `left name right` (or the prefix `name right` when `left` is `None`) to a
/// built-in operator, as PostgreSQL does: an exact match, an unknown operand counting as the
/// other operand's type; else the candidates the operands implicitly coerce to, narrowed as
/// for functions (<https://www.postgresql.org/docs/current/typeconv-oper.html>).
///
/// ```
/// use pgready_core::schema::builtins::{Arg, SqlType, oid, resolve_operator};
///
/// let now = Arg::Typed(SqlType::Builtin(oid::TIMESTAMPTZ));
/// let call = resolve_operator("-", Some(&now), &Arg::Param).unwrap();
/// assert_eq!(call.right, SqlType::Builtin(oid::TIMESTAMPTZ));
/// assert_eq!(call.returns, SqlType::Builtin(oid::INTERVAL));
/// ```
pub fn resolve_operator(
    name: &str,
    left: Option<&Arg>,
    right: &Arg,
) -> Result<OperatorCall, ResolveError> {
    let left_type = left.map(Arg::sql_type);
    let right_type = right.sql_type();
    let call = || match &left_type {
        Some(l) => format!("operator {l} {name} {right_type}"),
        None => format!("operator {name} {right_type}"),
    };
    let named = operators_named(name);
    let kind: Vec<&'static Operator> = named
        .iter()
        .filter(|o| (o.left == NONE) == left.is_none())
        .collect();

    // exact match, an unknown operand taking the other's type
    let (mut l, mut r) = (left_type.clone(), right_type.clone());
    match (&l, &r) {
        (Some(SqlType::Unknown), known) => l = Some(known.clone()),
        (Some(known), SqlType::Unknown) => r = known.clone(),
        _ => {}
    }
    let exact = kind.iter().find(|o| {
        r.is(o.right)
            && match &l {
                Some(l) => l.is(o.left),
                None => true,
            }
    });
    let operator = match exact {
        Some(o) => *o,
        None => {
            let inputs: Vec<SqlType> = left_type
                .iter()
                .cloned()
                .chain([right_type.clone()])
                .collect();
            let candidates: Vec<Candidate<Operator>> = kind
                .iter()
                .map(|o| Candidate {
                    item: Some(*o),
                    args: if left.is_some() {
                        vec![o.left, o.right]
                    } else {
                        vec![o.right]
                    },
                    defaulted: 0,
                    variadic_args: 0,
                })
                .filter(|c| can_coerce_all(&inputs, &builtins(&c.args), CastContext::Implicit))
                .collect();
            let op_signature = |o: &Operator| match row(o.left) {
                Some(_) => format!(
                    "{} {} {}",
                    SqlType::Builtin(o.left),
                    o.name,
                    SqlType::Builtin(o.right)
                ),
                None => format!("{} {}", o.name, SqlType::Builtin(o.right)),
            };
            match candidates.len() {
                0 => {
                    return Err(ResolveError::NotFound {
                        call: call(),
                        known_name: !named.is_empty(),
                    });
                }
                1 => candidates[0].item.expect("operators are never merged"),
                _ => {
                    let signatures: Vec<String> = candidates
                        .iter()
                        .filter_map(|c| c.item.map(op_signature))
                        .collect();
                    match select_candidate(&inputs, candidates).and_then(|c| c.item) {
                        Some(o) => o,
                        None => {
                            return Err(ResolveError::Ambiguous {
                                call: call(),
                                candidates: signatures,
                            });
                        }
                    }
                }
            }
        }
    };
    let actuals: Vec<SqlType> = left_type
        .iter()
        .cloned()
        .chain([right_type.clone()])
        .collect();
    let mut declared: Vec<SqlType> = if left.is_some() {
        builtins(&[operator.left, operator.right])
    } else {
        builtins(&[operator.right])
    };
    let returns = resolve_generics(&actuals, &mut declared, SqlType::Builtin(operator.returns))
        .map_err(|reason| ResolveError::Polymorphic {
            call: call(),
            reason,
        })?;
    let mut operands = coerced(&actuals, &declared).into_iter();
    let left = left.and_then(|_| operands.next());
    let right = operands.next().unwrap_or(SqlType::Unknown);
    Ok(OperatorCall {
        operator,
        left,
        right,
        returns,
    })
}
