//! The rows of the generated table (`generated.rs`) and the `const fn`s its lines call.
//!
//! Every row keeps what PostgreSQL's parser reads when it resolves a call: `pg_type`'s
//! category and preferred flag, `pg_cast`'s context, `pg_proc`'s argument and result types,
//! strictness, kind, variadic element and number of defaults, `pg_operator`'s operand and
//! result types and the strictness of the function it calls.

/// A type's OID. Built-in OIDs are fixed in PostgreSQL's source (`pg_type.dat`), so one OID
/// names the same type on every server of every supported version.
pub type Oid = u32;

/// The left operand of a prefix operator: none.
pub const NONE: Oid = 0;

/// What kind of type a [`TypeRow`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypeKind {
    /// a base type (`typtype = 'b'`) that is not an array
    Base,
    /// a true array type (`typsubscript = array_subscript_handler`); `element` is its element
    Array,
    /// a range type (`typtype = 'r'`); `element` is its subtype
    Range,
    /// a multirange type (`typtype = 'm'`)
    Multirange,
    /// a pseudo-type (`typtype = 'p'`): `anyelement`, `"any"`, `record`, `void`, …
    Pseudo,
}

/// One `pg_type` row.
#[derive(Debug, PartialEq, Eq)]
pub struct TypeRow {
    /// `pg_type.oid`
    pub oid: Oid,
    /// `format_type(oid, NULL)`: `integer`, `character varying`, `timestamp with time zone`,
    /// `integer[]`, `"char"`
    pub name: &'static str,
    /// `typname`: `int4`, `_int4`, `bpchar`; the name a function-style cast (`int8(x)`) uses
    pub typname: &'static str,
    /// `typcategory`: `N` numeric, `S` string, `D` date/time, `A` array, `P` pseudo, …
    pub category: u8,
    /// `typispreferred`
    pub preferred: bool,
    /// base, array, range, multirange or pseudo
    pub kind: TypeKind,
    /// an array's element type or a range's subtype, else 0
    pub element: Oid,
    /// the array type over this type when the table has it, else 0
    pub array: Oid,
}

/// Builds a [`TypeRow`]: one line of the generated table.
#[allow(clippy::too_many_arguments)]
pub(super) const fn t(
    oid: Oid,
    name: &'static str,
    typname: &'static str,
    category: u8,
    preferred: bool,
    kind: TypeKind,
    element: Oid,
    array: Oid,
) -> TypeRow {
    TypeRow {
        oid,
        name,
        typname,
        category,
        preferred,
        kind,
        element,
        array,
    }
}

/// When a `pg_cast` entry may be applied (`castcontext`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum CastContext {
    /// anywhere, also to make a function or operator call match (`i`)
    Implicit,
    /// also when a value is assigned to a column (`a`)
    Assignment,
    /// only with `CAST`/`::` (`e`)
    Explicit,
}

/// How a `pg_cast` entry converts (`castmethod`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CastMethod {
    /// by calling a function (`f`)
    Function,
    /// none needed: the types are binary coercible (`b`)
    Binary,
    /// through the types' text output and input (`i`)
    InOut,
}

/// One `pg_cast` row between two types of the table.
#[derive(Debug, PartialEq, Eq)]
pub struct Cast {
    /// `castsource`
    pub source: Oid,
    /// `casttarget`
    pub target: Oid,
    /// `castcontext`
    pub context: CastContext,
    /// `castmethod`
    pub method: CastMethod,
}

/// Builds a [`Cast`] from `castcontext` and `castmethod` as the catalog spells them.
pub(super) const fn c(source: Oid, target: Oid, context: u8, method: u8) -> Cast {
    Cast {
        source,
        target,
        context: match context {
            b'i' => CastContext::Implicit,
            b'a' => CastContext::Assignment,
            _ => CastContext::Explicit,
        },
        method: match method {
            b'f' => CastMethod::Function,
            b'b' => CastMethod::Binary,
            _ => CastMethod::InOut,
        },
    }
}

/// `proisstrict`: the function returns NULL, without being called, when an argument is NULL.
pub(super) const S: u16 = 1;
/// `proretset`: the function returns a set of rows.
pub(super) const SET: u16 = 1 << 1;
/// `prokind = 'a'`: an aggregate.
pub(super) const AGG: u16 = 1 << 2;
/// `prokind = 'w'`: a window function.
pub(super) const WIN: u16 = 1 << 3;
/// `aggkind <> 'n'`: an ordered-set or hypothetical-set aggregate (`… WITHIN GROUP (ORDER BY …)`).
pub(super) const ORD: u16 = 1 << 4;

/// `pronargdefaults`: how many trailing arguments have defaults, in the flags' high byte.
pub(super) const fn defaults(n: u16) -> u16 {
    n << 8
}

/// What kind of function a [`Function`] is (`prokind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FunctionKind {
    /// a plain function (`f`)
    Normal,
    /// an aggregate (`a`)
    Aggregate,
    /// a window function (`w`); a call needs `OVER`
    Window,
}

/// One `pg_proc` row.
#[derive(Debug, PartialEq, Eq)]
pub struct Function {
    /// `proname`
    pub name: &'static str,
    /// `proargtypes`: the input arguments (a variadic one as its array type, or `"any"`)
    pub args: &'static [Oid],
    /// `prorettype`
    pub returns: Oid,
    flags: u16,
    /// `provariadic`: the element type the last argument spreads into, 0 if not variadic
    pub variadic: Oid,
    /// for a function returning `record` with `OUT`/`TABLE` arguments: their names and types
    pub out: &'static [(&'static str, Oid)],
}

impl Function {
    /// `proisstrict`: NULL in any argument gives NULL, without calling the function.
    pub fn strict(&self) -> bool {
        self.flags & S != 0
    }

    /// `proretset`: the function returns a set of rows (`generate_series`, `unnest`, …).
    pub fn returns_set(&self) -> bool {
        self.flags & SET != 0
    }

    /// `prokind`: normal, aggregate or window.
    pub fn kind(&self) -> FunctionKind {
        if self.flags & AGG != 0 {
            FunctionKind::Aggregate
        } else if self.flags & WIN != 0 {
            FunctionKind::Window
        } else {
            FunctionKind::Normal
        }
    }

    /// An ordered-set or hypothetical-set aggregate, called with `WITHIN GROUP (ORDER BY …)`
    /// (`percentile_cont`, `mode`, `rank(…)` as an aggregate).
    pub fn ordered_set(&self) -> bool {
        self.flags & ORD != 0
    }

    /// `pronargdefaults`: how many trailing arguments may be left out.
    pub fn defaults(&self) -> usize {
        usize::from(self.flags >> 8)
    }

    pub(super) const fn variadic(self, element: Oid) -> Function {
        Function {
            variadic: element,
            ..self
        }
    }

    pub(super) const fn out(self, out: &'static [(&'static str, Oid)]) -> Function {
        Function { out, ..self }
    }
}

/// Builds a [`Function`]: one line of the generated table.
pub(super) const fn f(
    name: &'static str,
    args: &'static [Oid],
    returns: Oid,
    flags: u16,
) -> Function {
    Function {
        name,
        args,
        returns,
        flags,
        variadic: 0,
        out: &[],
    }
}

/// One `pg_operator` row.
#[derive(Debug, PartialEq, Eq)]
pub struct Operator {
    /// `oprname`
    pub name: &'static str,
    /// `oprleft`: [`NONE`] for a prefix operator
    pub left: Oid,
    /// `oprright`
    pub right: Oid,
    /// `oprresult`
    pub returns: Oid,
    /// `oprcode`: the function the operator calls
    pub function: &'static str,
    /// `proisstrict` of that function: NULL in an operand gives NULL
    pub strict: bool,
}

/// Builds an [`Operator`]: one line of the generated table.
pub(super) const fn o(
    name: &'static str,
    left: Oid,
    right: Oid,
    returns: Oid,
    function: &'static str,
    strict: bool,
) -> Operator {
    Operator {
        name,
        left,
        right,
        returns,
        function,
        strict,
    }
}
