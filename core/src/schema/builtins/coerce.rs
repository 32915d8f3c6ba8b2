//! Coercion between types, as PostgreSQL's `parse_coerce.c` decides it: which casts apply in
//! which context (`find_coercion_pathway`, `can_coerce_type`), the common type of several
//! (`select_common_type`), and the polymorphic pseudo-types' consistency rules
//! (`check_generic_type_consistency`, `enforce_generic_type_consistency`).

use super::generated::{CASTS, oid};
use super::table::{Cast, CastContext, CastMethod, Oid};
use super::types::SqlType;

/// `oidvector` and `int2vector`: arrays PostgreSQL never coerces other arrays into.
const OIDVECTOR: Oid = 30;
const INT2VECTOR: Oid = 22;

/// How a value of one type becomes another (`CoercionPathType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Pathway {
    /// no way in this context
    None,
    /// a cast function
    Function,
    /// binary compatible: nothing to do
    Relabel,
    /// element by element
    ArrayCoerce,
    /// through text output and input
    ViaIo,
}

/// The `pg_cast` row from `source` to `target`.
pub fn cast(source: Oid, target: Oid) -> Option<&'static Cast> {
    CASTS
        .binary_search_by(|c| (c.source, c.target).cmp(&(source, target)))
        .ok()
        .map(|i| &CASTS[i])
}

/// `find_coercion_pathway`: how `source` becomes `target` in `context`.
pub(super) fn pathway(target: &SqlType, source: &SqlType, context: CastContext) -> Pathway {
    if source == target {
        return Pathway::Relabel;
    }
    if let (SqlType::Builtin(s), SqlType::Builtin(t)) = (source, target)
        && let Some(cast) = cast(*s, *t)
    {
        if context < cast.context {
            return Pathway::None;
        }
        return match cast.method {
            CastMethod::Function => Pathway::Function,
            CastMethod::Binary => Pathway::Relabel,
            CastMethod::InOut => Pathway::ViaIo,
        };
    }
    if !target.is(OIDVECTOR)
        && !target.is(INT2VECTOR)
        && let (Some(target_element), Some(source_element)) = (target.element(), source.element())
        && pathway(&target_element, &source_element, context) != Pathway::None
    {
        return Pathway::ArrayCoerce;
    }
    // automatic I/O conversion: to a string type by assignment, from one explicitly
    let to_string = context >= CastContext::Assignment && target.category() == b'S';
    let from_string = context >= CastContext::Explicit && source.category() == b'S';
    if to_string || from_string {
        Pathway::ViaIo
    } else {
        Pathway::None
    }
}

/// Whether a value of type `source` can become `target` in `context` (a cast, an
/// assignment, an implicit coercion), as PostgreSQL's `can_coerce_type` decides for one
/// value: unknown literals and parameters become anything.
///
/// ```
/// use pgready_core::schema::builtins::{CastContext, SqlType, can_coerce, oid};
///
/// let int4 = SqlType::Builtin(oid::INT4);
/// let int8 = SqlType::Builtin(oid::INT8);
/// assert!(can_coerce(&int4, &int8, CastContext::Implicit));
/// assert!(!can_coerce(&int8, &int4, CastContext::Implicit));
/// assert!(can_coerce(&int8, &int4, CastContext::Assignment));
/// ```
pub fn can_coerce(source: &SqlType, target: &SqlType, context: CastContext) -> bool {
    can_coerce_all(
        std::slice::from_ref(source),
        std::slice::from_ref(target),
        context,
    )
}

/// `can_coerce_type`: can every input become its target (the candidate's declared types)?
pub(super) fn can_coerce_all(
    inputs: &[SqlType],
    targets: &[SqlType],
    context: CastContext,
) -> bool {
    let mut generic = false;
    for (input, target) in inputs.iter().zip(targets) {
        if input == target || target.is(oid::ANY) {
            continue;
        }
        if is_polymorphic(target) {
            generic = true;
            continue;
        }
        if *input == SqlType::Unknown {
            continue;
        }
        if pathway(target, input, context) != Pathway::None {
            continue;
        }
        if input.is(oid::RECORD) && target.is_composite() {
            continue;
        }
        if target.is(oid::RECORD) && input.is_composite() {
            continue;
        }
        if target.is(oid::RECORD_ARRAY) && input.element().is_some_and(|e| e.is_composite()) {
            continue;
        }
        return false;
    }
    !generic || generic_consistent(inputs, targets)
}

/// The polymorphic pseudo-types (`IsPolymorphicType`); `"any"` is not one.
pub(super) fn is_polymorphic(t: &SqlType) -> bool {
    let SqlType::Builtin(o) = t else {
        return false;
    };
    [
        oid::ANYELEMENT,
        oid::ANYARRAY,
        oid::ANYNONARRAY,
        oid::ANYENUM,
        oid::ANYRANGE,
        oid::ANYMULTIRANGE,
        oid::ANYCOMPATIBLE,
        oid::ANYCOMPATIBLEARRAY,
        oid::ANYCOMPATIBLENONARRAY,
        oid::ANYCOMPATIBLERANGE,
        oid::ANYCOMPATIBLEMULTIRANGE,
    ]
    .contains(o)
}

/// Why two types have no common type: their categories differ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoCommonType {
    /// the type chosen so far
    pub first: SqlType,
    /// the type that does not fit it
    pub second: SqlType,
}

/// The type `CASE`, `COALESCE`, `UNION`, `ARRAY[…]`, `VALUES`, `GREATEST`/`LEAST` and
/// `IN (…)` give a list of expressions (PostgreSQL's `select_common_type`): all the same type
/// gives that type; otherwise, within one category, the preferred type or the one the others
/// implicitly coerce to, earlier ones winning a tie; only unknowns give `text`. Types of
/// different categories have none. Check that every input actually coerces to the result with
/// [`can_coerce`] (PostgreSQL's `verify_common_type`).
///
/// ```
/// use pgready_core::schema::builtins::{SqlType, oid, select_common_type};
///
/// let t = |o| SqlType::Builtin(o);
/// assert_eq!(select_common_type(&[t(oid::INT4), t(oid::NUMERIC)]), Ok(t(oid::NUMERIC)));
/// assert_eq!(select_common_type(&[SqlType::Unknown, t(oid::INT8)]), Ok(t(oid::INT8)));
/// assert_eq!(select_common_type(&[SqlType::Unknown]), Ok(t(oid::TEXT)));
/// assert!(select_common_type(&[t(oid::INT4), t(oid::TEXT)]).is_err());
/// ```
pub fn select_common_type(types: &[SqlType]) -> Result<SqlType, NoCommonType> {
    let Some(first) = types.first() else {
        return Ok(SqlType::Builtin(oid::TEXT));
    };
    if *first != SqlType::Unknown && types.iter().all(|t| t == first) {
        return Ok(first.clone());
    }
    let mut chosen = first.clone();
    for next in &types[1..] {
        if *next == SqlType::Unknown || *next == chosen {
            continue;
        }
        if chosen == SqlType::Unknown {
            chosen = next.clone();
        } else if next.category() != chosen.category() {
            return Err(NoCommonType {
                first: chosen,
                second: next.clone(),
            });
        } else if !chosen.preferred()
            && can_coerce(&chosen, next, CastContext::Implicit)
            && !can_coerce(next, &chosen, CastContext::Implicit)
        {
            chosen = next.clone();
        }
    }
    if chosen == SqlType::Unknown {
        chosen = SqlType::Builtin(oid::TEXT);
    }
    Ok(chosen)
}

/// `check_generic_type_consistency`: could the polymorphic declared types be resolved
/// consistently from these actual types?
pub(super) fn generic_consistent(actuals: &[SqlType], declared: &[SqlType]) -> bool {
    let mut element: Option<SqlType> = None;
    let mut array: Option<SqlType> = None;
    let mut range: Option<SqlType> = None;
    let mut compatible_range: Option<SqlType> = None;
    let mut compatible_range_element: Option<SqlType> = None;
    let mut nonarray = false;
    let mut anyenum = false;
    let mut compatible_nonarray = false;
    let mut compatible: Vec<SqlType> = Vec::new();
    for (actual, decl) in actuals.iter().zip(declared) {
        let SqlType::Builtin(d) = decl else { continue };
        let d = *d;
        if d == oid::ANYELEMENT || d == oid::ANYNONARRAY || d == oid::ANYENUM {
            nonarray |= d == oid::ANYNONARRAY;
            anyenum |= d == oid::ANYENUM;
            if *actual == SqlType::Unknown {
                continue;
            }
            if element.as_ref().is_some_and(|e| e != actual) {
                return false;
            }
            element = Some(actual.clone());
        } else if d == oid::ANYARRAY {
            if *actual == SqlType::Unknown {
                continue;
            }
            if array.as_ref().is_some_and(|a| a != actual) {
                return false;
            }
            array = Some(actual.clone());
        } else if d == oid::ANYRANGE {
            if *actual == SqlType::Unknown {
                continue;
            }
            if range.as_ref().is_some_and(|r| r != actual) {
                return false;
            }
            range = Some(actual.clone());
        } else if d == oid::ANYMULTIRANGE || d == oid::ANYCOMPATIBLEMULTIRANGE {
            // the table has no multirange types: only a multirange could match
            if *actual == SqlType::Unknown {
                continue;
            }
            return false;
        } else if d == oid::ANYCOMPATIBLE || d == oid::ANYCOMPATIBLENONARRAY {
            compatible_nonarray |= d == oid::ANYCOMPATIBLENONARRAY;
            if *actual == SqlType::Unknown {
                continue;
            }
            compatible.push(actual.clone());
        } else if d == oid::ANYCOMPATIBLEARRAY {
            if *actual == SqlType::Unknown {
                continue;
            }
            let Some(e) = actual.element() else {
                return false;
            };
            compatible.push(e);
        } else if d == oid::ANYCOMPATIBLERANGE {
            if *actual == SqlType::Unknown {
                continue;
            }
            match &compatible_range {
                Some(r) if r != actual => return false,
                Some(_) => {}
                None => {
                    let Some(sub) = actual.range_subtype() else {
                        return false;
                    };
                    compatible_range = Some(actual.clone());
                    compatible_range_element = Some(sub.clone());
                    compatible.push(sub);
                }
            }
        }
    }
    if let Some(array) = &array {
        let Some(array_element) = array.element() else {
            return false;
        };
        match &element {
            None => element = Some(array_element),
            Some(e) if *e != array_element => return false,
            Some(_) => {}
        }
    }
    if let Some(range) = &range {
        let Some(sub) = range.range_subtype() else {
            return false;
        };
        match &element {
            None => element = Some(sub),
            Some(e) if *e != sub => return false,
            Some(_) => {}
        }
    }
    if nonarray && element.as_ref().is_some_and(SqlType::is_array) {
        return false;
    }
    // as PostgreSQL: with only unknowns there is no element type, and so no enum
    if anyenum && !matches!(element, Some(SqlType::Enum(_))) {
        return false;
    }
    if !compatible.is_empty() {
        let Ok(common) = select_common_type(&compatible) else {
            return false;
        };
        if !compatible
            .iter()
            .all(|t| can_coerce(t, &common, CastContext::Implicit))
        {
            return false;
        }
        if compatible_nonarray && common.is_array() {
            return false;
        }
        if compatible_range_element.is_some_and(|e| e != common) {
            return false;
        }
    }
    true
}

/// `enforce_generic_type_consistency`: resolves the polymorphic declared types from the
/// actual ones, rewriting `declared` where an argument must be coerced (unknowns, the
/// `anycompatible` family), and returns the result type with its polymorphism resolved.
pub(super) fn resolve_generics(
    actuals: &[SqlType],
    declared: &mut [SqlType],
    returns: SqlType,
) -> Result<SqlType, String> {
    let ret = match &returns {
        SqlType::Builtin(o) => *o,
        _ => 0,
    };
    let mut element: Option<SqlType> = None;
    let mut array: Option<SqlType> = None;
    let mut range: Option<SqlType> = None;
    let mut compatible_range: Option<SqlType> = None;
    let mut compatible_range_element: Option<SqlType> = None;
    let mut nonarray = ret == oid::ANYNONARRAY;
    let mut anyenum = ret == oid::ANYENUM;
    let mut compatible_nonarray = ret == oid::ANYCOMPATIBLENONARRAY;
    let mut compatible_array = ret == oid::ANYCOMPATIBLEARRAY;
    let mut compatible_ranged = ret == oid::ANYCOMPATIBLERANGE;
    let mut poly_args = 0usize;
    let mut poly_compatible = false;
    let mut poly_unknowns = false;
    let mut compatible: Vec<SqlType> = Vec::new();
    for (actual, decl) in actuals.iter().zip(declared.iter()) {
        let SqlType::Builtin(d) = decl else { continue };
        let d = *d;
        if d == oid::ANYELEMENT || d == oid::ANYNONARRAY || d == oid::ANYENUM {
            poly_args += 1;
            nonarray |= d == oid::ANYNONARRAY;
            anyenum |= d == oid::ANYENUM;
            if *actual == SqlType::Unknown {
                poly_unknowns = true;
                continue;
            }
            if let Some(e) = &element
                && e != actual
            {
                return Err(format!(
                    "arguments declared \"anyelement\" are not all alike: {e} versus {actual}"
                ));
            }
            element = Some(actual.clone());
        } else if d == oid::ANYARRAY {
            poly_args += 1;
            if *actual == SqlType::Unknown {
                poly_unknowns = true;
                continue;
            }
            if let Some(a) = &array
                && a != actual
            {
                return Err(format!(
                    "arguments declared \"anyarray\" are not all alike: {a} versus {actual}"
                ));
            }
            array = Some(actual.clone());
        } else if d == oid::ANYRANGE {
            poly_args += 1;
            if *actual == SqlType::Unknown {
                poly_unknowns = true;
                continue;
            }
            if let Some(r) = &range
                && r != actual
            {
                return Err(format!(
                    "arguments declared \"anyrange\" are not all alike: {r} versus {actual}"
                ));
            }
            range = Some(actual.clone());
        } else if d == oid::ANYMULTIRANGE || d == oid::ANYCOMPATIBLEMULTIRANGE {
            return Err("multirange types are not in pgready's table".to_owned());
        } else if d == oid::ANYCOMPATIBLE || d == oid::ANYCOMPATIBLENONARRAY {
            poly_compatible = true;
            compatible_nonarray |= d == oid::ANYCOMPATIBLENONARRAY;
            if *actual != SqlType::Unknown {
                compatible.push(actual.clone());
            }
        } else if d == oid::ANYCOMPATIBLEARRAY {
            poly_compatible = true;
            compatible_array = true;
            if *actual == SqlType::Unknown {
                continue;
            }
            let Some(e) = actual.element() else {
                return Err(format!(
                    "argument declared anycompatiblearray is not an array but type {actual}"
                ));
            };
            compatible.push(e);
        } else if d == oid::ANYCOMPATIBLERANGE {
            poly_compatible = true;
            compatible_ranged = true;
            if *actual == SqlType::Unknown {
                continue;
            }
            match &compatible_range {
                Some(r) if r != actual => {
                    return Err(format!(
                        "arguments declared \"anycompatiblerange\" are not all alike: {r} versus {actual}"
                    ));
                }
                Some(_) => {}
                None => {
                    let Some(sub) = actual.range_subtype() else {
                        return Err(format!(
                            "argument declared anycompatiblerange is not a range type but type {actual}"
                        ));
                    };
                    compatible_range = Some(actual.clone());
                    compatible_range_element = Some(sub.clone());
                    compatible.push(sub);
                }
            }
        }
    }
    if poly_args == 0 && !poly_compatible {
        return Ok(returns);
    }
    if poly_args > 0 {
        if let Some(a) = &array {
            let Some(array_element) = a.element() else {
                return Err(format!(
                    "argument declared anyarray is not an array but type {a}"
                ));
            };
            match &element {
                None => element = Some(array_element),
                Some(e) if *e != array_element => {
                    return Err(format!(
                        "argument declared anyarray is not consistent with argument declared anyelement: {a} versus {e}"
                    ));
                }
                Some(_) => {}
            }
        }
        if let Some(r) = &range {
            let Some(sub) = r.range_subtype() else {
                return Err(format!(
                    "argument declared anyrange is not a range type but type {r}"
                ));
            };
            match &element {
                None => element = Some(sub),
                Some(e) if *e != sub => {
                    return Err(format!(
                        "argument declared anyrange is not consistent with argument declared anyelement: {r} versus {e}"
                    ));
                }
                Some(_) => {}
            }
        }
        let Some(e) = &element else {
            return Err(
                "could not determine polymorphic type because input has type unknown".to_owned(),
            );
        };
        if nonarray && e.is_array() {
            return Err(format!("type matched to anynonarray is an array type: {e}"));
        }
        if anyenum && !matches!(e, SqlType::Enum(_)) {
            return Err(format!("type matched to anyenum is not an enum type: {e}"));
        }
    }
    let mut compatible_type: Option<SqlType> = None;
    let mut compatible_array_type: Option<SqlType> = None;
    if poly_compatible {
        if compatible.is_empty() {
            // every anycompatible argument is unknown: text, as `select_common_type` would
            if compatible_ranged {
                return Err(
                    "could not determine polymorphic type anycompatiblerange because input has type unknown"
                        .to_owned(),
                );
            }
            compatible_type = Some(SqlType::Builtin(oid::TEXT));
            compatible_array_type = Some(SqlType::Builtin(oid::TEXT_ARRAY));
        } else {
            let common = select_common_type(&compatible).map_err(|e| {
                format!(
                    "argument types {} and {} cannot be matched",
                    e.first, e.second
                )
            })?;
            if !compatible
                .iter()
                .all(|t| can_coerce(t, &common, CastContext::Implicit))
            {
                return Err(
                    "arguments of anycompatible family cannot be cast to a common type".to_owned(),
                );
            }
            if compatible_array {
                compatible_array_type =
                    Some(common.clone().array().ok_or_else(|| {
                        format!("could not find array type for data type {common}")
                    })?);
            }
            if compatible_ranged {
                let Some(r) = &compatible_range else {
                    return Err(
                        "could not determine polymorphic type anycompatiblerange because input has type unknown"
                            .to_owned(),
                    );
                };
                if compatible_range_element.as_ref() != Some(&common) {
                    return Err(format!(
                        "anycompatiblerange type {r} does not match anycompatible type {common}"
                    ));
                }
            }
            if compatible_nonarray && common.is_array() {
                return Err(format!(
                    "type matched to anycompatiblenonarray is an array type: {common}"
                ));
            }
            compatible_type = Some(common);
        }
        for decl in declared.iter_mut() {
            let SqlType::Builtin(d) = *decl else { continue };
            if d == oid::ANYCOMPATIBLE || d == oid::ANYCOMPATIBLENONARRAY {
                *decl = compatible_type.clone().unwrap_or(SqlType::Unknown);
            } else if d == oid::ANYCOMPATIBLEARRAY {
                *decl = compatible_array_type.clone().unwrap_or(SqlType::Unknown);
            } else if d == oid::ANYCOMPATIBLERANGE {
                *decl = compatible_range.clone().unwrap_or(SqlType::Unknown);
            }
        }
    }
    let array_of_element = |element: &Option<SqlType>| -> Result<SqlType, String> {
        let e = element.clone().unwrap_or(SqlType::Unknown);
        e.clone()
            .array()
            .ok_or_else(|| format!("could not find array type for data type {e}"))
    };
    if poly_unknowns {
        for (actual, decl) in actuals.iter().zip(declared.iter_mut()) {
            if *actual != SqlType::Unknown {
                continue;
            }
            let SqlType::Builtin(d) = *decl else { continue };
            if d == oid::ANYELEMENT || d == oid::ANYNONARRAY || d == oid::ANYENUM {
                *decl = element.clone().unwrap_or(SqlType::Unknown);
            } else if d == oid::ANYARRAY {
                if array.is_none() {
                    array = Some(array_of_element(&element)?);
                }
                *decl = array.clone().unwrap_or(SqlType::Unknown);
            } else if d == oid::ANYRANGE {
                let Some(r) = &range else {
                    return Err(
                        "could not determine polymorphic type anyrange because input has type unknown"
                            .to_owned(),
                    );
                };
                *decl = r.clone();
            }
        }
    }
    Ok(match ret {
        r if r == oid::ANYELEMENT || r == oid::ANYNONARRAY || r == oid::ANYENUM => {
            element.unwrap_or(SqlType::Unknown)
        }
        r if r == oid::ANYARRAY => match array {
            Some(a) => a,
            None => array_of_element(&element)?,
        },
        r if r == oid::ANYRANGE => range.ok_or_else(|| {
            "could not determine polymorphic type anyrange because input has type unknown"
                .to_owned()
        })?,
        r if r == oid::ANYCOMPATIBLE || r == oid::ANYCOMPATIBLENONARRAY => {
            compatible_type.unwrap_or(SqlType::Unknown)
        }
        r if r == oid::ANYCOMPATIBLEARRAY => compatible_array_type.unwrap_or(SqlType::Unknown),
        r if r == oid::ANYCOMPATIBLERANGE => compatible_range.unwrap_or(SqlType::Unknown),
        _ => returns,
    })
}
