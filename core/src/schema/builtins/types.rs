//! [`SqlType`]: a type as the resolver sees it, built-in (by OID) or the migrations' own.

use std::fmt;

use super::generated::{TYPES, oid};
use super::table::{Oid, TypeKind, TypeRow};
use crate::schema::{Catalog, Known};

/// The type of an expression, as function and operator resolution sees it.
///
/// Domains are not a kind of their own: PostgreSQL resolves a call on a domain as on its base
/// type, so pass the base type ([`SqlType::from_catalog`] does).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SqlType {
    /// `unknown`: an untyped literal (`'abc'`, `NULL`) or a `$n` parameter whose type is still
    /// open
    Unknown,
    /// a type of the generated table, arrays of built-in types included, by OID
    Builtin(Oid),
    /// a user enum (`CREATE TYPE … AS ENUM`), by its name as `format_type` prints it
    Enum(String),
    /// a composite type: a table's row type or `CREATE TYPE … AS (…)`, by name
    Composite(String),
    /// a type the table does not describe (an extension's type such as `citext`, a user range):
    /// it matches only itself and the polymorphic pseudo-types
    Other(String),
    /// an array of a type that is not built in (`mood[]`); arrays of built-in types are
    /// [`SqlType::Builtin`]
    Array(Box<SqlType>),
}

/// The `pg_type` row of a built-in type.
pub(super) fn row(oid: Oid) -> Option<&'static TypeRow> {
    TYPES
        .binary_search_by_key(&oid, |t| t.oid)
        .ok()
        .map(|i| &TYPES[i])
}

impl SqlType {
    /// The built-in type `name` names, in any spelling `format_type` prints (`integer`,
    /// `character varying(255)`, `timestamp(3) with time zone`, `numeric(10,2)`,
    /// `interval year to month`, `integer[]`) or by `typname` (`int4`, `timestamptz`); type
    /// modifiers are dropped. `None` when it is not a type of the table.
    ///
    /// ```
    /// use pgready_core::schema::builtins::{SqlType, oid};
    ///
    /// assert_eq!(SqlType::builtin("character varying(255)"), Some(SqlType::Builtin(oid::VARCHAR)));
    /// assert_eq!(SqlType::builtin("bigint[]"), Some(SqlType::Builtin(oid::INT8_ARRAY)));
    /// assert_eq!(SqlType::builtin("mood"), None);
    /// ```
    pub fn builtin(name: &str) -> Option<SqlType> {
        let name = name.trim();
        if let Some(element) = name.strip_suffix("[]") {
            return SqlType::builtin(element)?.array();
        }
        let mut plain = String::with_capacity(name.len());
        let mut depth = 0usize;
        for c in name.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth = depth.saturating_sub(1),
                _ if depth == 0 => plain.push(c),
                _ => {}
            }
        }
        let plain = plain.split_whitespace().collect::<Vec<_>>().join(" ");
        let plain = if plain.starts_with("interval") {
            "interval"
        } else {
            plain.as_str()
        };
        let unquoted = plain.trim_matches('"');
        TYPES
            .iter()
            .find(|t| t.name == plain || (plain.starts_with('"') && t.name == unquoted))
            .or_else(|| {
                // `char` is `character(1)` where a user writes it, but `"char"`'s typname
                TYPES
                    .iter()
                    .find(|t| t.typname == unquoted && unquoted != "char")
            })
            .filter(|t| t.oid != oid::UNKNOWN)
            .map(|t| SqlType::Builtin(t.oid))
    }

    /// The type a column or expression of type `name` (as the schema model spells it) has for
    /// resolution: a built-in type, or one the migrations created: an enum, a domain (as its
    /// base type), a table's row type. Anything else is [`SqlType::Other`].
    pub fn from_catalog(name: &str, catalog: &Catalog) -> SqlType {
        if let Some(builtin) = SqlType::builtin(name) {
            return builtin;
        }
        if let Some(element) = name.trim().strip_suffix("[]") {
            let element = SqlType::from_catalog(element, catalog);
            return element
                .clone()
                .array()
                .unwrap_or_else(|| SqlType::Other(format!("{element}[]")));
        }
        let name = name.trim();
        if let Known::Yes(_) = catalog.enum_type(name) {
            return SqlType::Enum(name.to_owned());
        }
        let (schema, local) = name.split_once('.').unwrap_or((&catalog.base_schema, name));
        if let Some(s) = catalog.schemas.get(schema) {
            if let Some(domain) = s.domains.get(local)
                && domain.uncertain.is_none()
                && let Some(base) = &domain.base
            {
                return SqlType::from_catalog(base, catalog);
            }
            if s.tables.contains_key(local) || s.views.contains_key(local) {
                return SqlType::Composite(name.to_owned());
            }
        }
        SqlType::Other(name.to_owned())
    }

    /// The `pg_type` row of a built-in type.
    pub fn row(&self) -> Option<&'static TypeRow> {
        match self {
            SqlType::Builtin(oid) => row(*oid),
            _ => None,
        }
    }

    /// `typcategory`: `N`, `S`, `D`, … as PostgreSQL assigns it; `E` for an enum, `C` for a
    /// composite, `A` for an array, `X` for unknown, `U` for a type the table lacks.
    pub fn category(&self) -> u8 {
        match self {
            SqlType::Unknown => b'X',
            SqlType::Builtin(oid) => row(*oid).map_or(b'U', |t| t.category),
            SqlType::Enum(_) => b'E',
            SqlType::Composite(_) => b'C',
            SqlType::Other(_) => b'U',
            SqlType::Array(_) => b'A',
        }
    }

    /// `typispreferred`: the preferred type of its category (`text`, `double precision`,
    /// `timestamp with time zone`, …).
    pub fn preferred(&self) -> bool {
        self.row().is_some_and(|t| t.preferred)
    }

    /// The element type of an array type.
    pub fn element(&self) -> Option<SqlType> {
        match self {
            SqlType::Builtin(oid) => row(*oid)
                .filter(|t| t.kind == TypeKind::Array)
                .map(|t| SqlType::Builtin(t.element)),
            SqlType::Array(element) => Some((**element).clone()),
            _ => None,
        }
    }

    /// The array type over this type; `None` for an array (PostgreSQL has no arrays of
    /// arrays) and for types without one.
    pub fn array(self) -> Option<SqlType> {
        match self {
            SqlType::Builtin(oid) => row(oid)
                .filter(|t| t.array != 0)
                .map(|t| SqlType::Builtin(t.array)),
            SqlType::Enum(_) | SqlType::Composite(_) | SqlType::Other(_) => {
                Some(SqlType::Array(Box::new(self)))
            }
            SqlType::Unknown | SqlType::Array(_) => None,
        }
    }

    /// The subtype of a range type (`integer` for `int4range`).
    pub fn range_subtype(&self) -> Option<SqlType> {
        self.row()
            .filter(|t| t.kind == TypeKind::Range)
            .map(|t| SqlType::Builtin(t.element))
    }

    /// An array type (PostgreSQL's `type_is_array`).
    pub fn is_array(&self) -> bool {
        self.element().is_some()
    }

    /// A composite type (PostgreSQL's `ISCOMPLEX`); `record` itself is not one.
    pub fn is_composite(&self) -> bool {
        matches!(self, SqlType::Composite(_))
    }

    /// This built-in type.
    pub(super) fn is(&self, oid: Oid) -> bool {
        *self == SqlType::Builtin(oid)
    }
}

impl fmt::Display for SqlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SqlType::Unknown => f.write_str("unknown"),
            SqlType::Builtin(oid) => match row(*oid) {
                Some(t) => f.write_str(t.name),
                None => write!(f, "type {oid}"),
            },
            SqlType::Enum(name) | SqlType::Composite(name) | SqlType::Other(name) => {
                f.write_str(name)
            }
            SqlType::Array(element) => write!(f, "{element}[]"),
        }
    }
}
