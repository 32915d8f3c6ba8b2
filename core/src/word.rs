//! Settings that take one of a fixed set of words (`on_startup = "verify"`,
//! `#[pgready::health_endpoint(kind = "liveness")]`): each is an enum declared once with the
//! crate's `words!` macro, which gives it `FromStr`, `Display`, `as_str` and `VALID` (the list
//! messages name). `pgready.toml`, the attributes and the runtime parse the same enum, so a word
//! means the same everywhere, and a typo is an error that lists the valid words, never a
//! default.

use std::fmt;

use crate::message::{one_of, quote};

/// Declares a word enum: each variant with the one word that names it.
///
/// ```ignore
/// words! {
///     /// What start-up does with migrations.
///     pub enum OnStartup {
///         /// apply pending migrations
///         Apply = "apply",
///         Verify = "verify",
///     }
/// }
/// ```
macro_rules! words {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident = $word:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$variant_meta])* $variant, )+
        }

        impl $name {
            /// Every valid word, in the order messages list them.
            pub const VALID: &'static [&'static str] = &[$($word),+];

            /// The word that names this value.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $word, )+
                }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::word::UnknownWord;

            /// Exactly one of [`Self::VALID`]; anything else is an error that lists them.
            fn from_str(word: &str) -> ::std::result::Result<Self, Self::Err> {
                match word {
                    $( $word => Ok($name::$variant), )+
                    _ => Err($crate::word::UnknownWord::new(word, Self::VALID)),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> ::std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

pub(crate) use words;

/// A word that is none of the valid ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownWord {
    found: String,
    valid: &'static [&'static str],
}

impl UnknownWord {
    /// `found` is not one of `valid`.
    pub fn new(found: &str, valid: &'static [&'static str]) -> UnknownWord {
        UnknownWord {
            found: found.to_owned(),
            valid,
        }
    }

    /// The word that was given.
    pub fn found(&self) -> &str {
        &self.found
    }

    /// The valid words.
    pub fn valid(&self) -> &'static [&'static str] {
        self.valid
    }

    /// The valid word [`closest`](crate::suggest::closest) to the one given, if it looks like
    /// a typo of it.
    pub fn hint(&self) -> Option<&'static str> {
        crate::suggest::closest(&self.found, self.valid.iter().copied())
    }

    /// The message for the setting `key`:
    /// ``invalid value `"verfy"` for `on_startup`: did you mean `"verify"`? expected `"apply"`, `"verify"` or `"off"` ``.
    /// The value is quoted as Rust quotes it, with any password redacted.
    pub fn message_for(&self, key: &str) -> String {
        format!(
            "invalid value {} for `{key}`: {}",
            quote(&self.found),
            self.advice()
        )
    }

    /// `did you mean …? expected …`
    fn advice(&self) -> String {
        let valid = one_of(self.valid.iter().copied(), ("\"", "\""));
        match self.hint() {
            Some(hint) => format!("did you mean `\"{hint}\"`? expected {valid}"),
            None => format!("expected {valid}"),
        }
    }
}

/// ``invalid value `"verfy"`: did you mean `"verify"`? expected …``
impl fmt::Display for UnknownWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid value {}: {}", quote(&self.found), self.advice())
    }
}

impl std::error::Error for UnknownWord {}

#[cfg(test)]
mod tests {
    words! {
        /// A word enum for the tests.
        pub enum Colour {
            Red = "red",
            Green = "green",
        }
    }

    #[test]
    fn from_str_round_trips_every_word() {
        for word in Colour::VALID {
            let colour: Colour = word.parse().expect("a valid word");
            assert_eq!(colour.as_str(), *word);
            assert_eq!(colour.to_string(), *word);
        }
        assert_eq!(Colour::VALID, ["red", "green"]);
    }

    #[test]
    fn an_unknown_word_lists_the_valid_ones() {
        let e = "blue".parse::<Colour>().unwrap_err();
        assert_eq!(e.found(), "blue");
        assert_eq!(e.hint(), None);
        assert_eq!(
            e.message_for("colour"),
            "invalid value `\"blue\"` for `colour`: expected `\"red\"` or `\"green\"`"
        );
        let e = "gren".parse::<Colour>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid value `\"gren\"`: did you mean `\"green\"`? expected `\"red\"` or `\"green\"`"
        );
    }

    #[test]
    fn words_are_exact() {
        assert!("Red".parse::<Colour>().is_err());
        assert!(" red".parse::<Colour>().is_err());
        assert!("".parse::<Colour>().is_err());
    }

    #[test]
    fn words_serialize_as_themselves() {
        assert_eq!(
            serde_json::to_string(&Colour::Green).ok().as_deref(),
            Some("\"green\"")
        );
    }
}
