//! "Did you mean …?": the one fuzzy matcher behind every hint pgready gives for a misspelt
//! name: `pgready.toml` sections, keys, words and profiles, lint rule names in the file and in
//! `-- pgready:allow(…)`, and the attributes' arguments and words.

/// How similar (Jaro-Winkler, 0 to 1) a name must be to a known one to be offered as a hint.
///
/// High enough that an unrelated name gets the list of valid ones instead of a wrong guess,
/// low enough to catch a dropped, doubled or swapped letter in a long name.
pub const THRESHOLD: f64 = 0.85;

/// The candidate closest to `unknown`, if it is close enough to be what was meant.
///
/// Case and the choice of `-` or `_` between words are ignored, so `MAX-CONNECTIONS` finds
/// `max_connections` and `renaming_column` finds `renaming-column`. Of equally close
/// candidates, the last wins.
///
/// ```
/// use pgready_core::suggest::closest;
///
/// let keys = ["max_connections", "min_connections", "acquire_timeout"];
/// assert_eq!(closest("max_conections", keys), Some("max_connections"));
/// assert_eq!(closest("colour", keys), None);
/// ```
pub fn closest<'a>(
    unknown: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let unknown = normalize(unknown);
    candidates
        .into_iter()
        .map(|candidate| {
            (
                strsim::jaro_winkler(&unknown, &normalize(candidate)),
                candidate,
            )
        })
        .filter(|&(score, _)| score >= THRESHOLD)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

fn normalize(name: &str) -> String {
    name.to_ascii_lowercase().replace('-', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_are_found_and_unrelated_names_are_not() {
        let pool = ["max_connections", "min_connections", "acquire_timeout"];
        assert_eq!(closest("max_conections", pool), Some("max_connections"));
        assert_eq!(closest("colour", pool), None);
        let rules = [
            "truncate",
            "renaming-column",
            "require-concurrent-index-creation",
        ];
        assert_eq!(closest("truncat", rules), Some("truncate"));
        assert_eq!(
            closest("require-concurent-index-creation", rules),
            Some("require-concurrent-index-creation")
        );
        assert_eq!(closest("zzzz", rules), None);
        assert_eq!(closest("anything", []), None);
    }

    #[test]
    fn case_and_word_separators_do_not_count() {
        assert_eq!(
            closest("MAX-CONNECTIONS", ["max_connections"]),
            Some("max_connections")
        );
        assert_eq!(
            closest("Renaming_Column", ["renaming-column"]),
            Some("renaming-column")
        );
    }

    #[test]
    fn the_threshold_is_the_boundary() {
        // scores straddling the threshold: one just above, one just below
        let (near, far) = (("readyness", "readiness"), ("ready", "readiness"));
        let score = |(a, b): (&str, &str)| strsim::jaro_winkler(a, b);
        assert!(score(near) >= THRESHOLD, "{}", score(near));
        assert!(score(far) < THRESHOLD, "{}", score(far));
        assert_eq!(closest(near.0, [near.1]), Some(near.1));
        assert_eq!(closest(far.0, [far.1]), None);
    }

    #[test]
    fn the_closest_of_several_wins() {
        assert_eq!(closest("statust", ["status", "stats"]), Some("status"));
    }
}
