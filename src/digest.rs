//! Digests of the files the tool writes for people to approve or audit (a
//! saved plan, a journal): SHA-256 over the document's canonical JSON with
//! its own `digest` field left empty. A changed value changes the digest, so
//! an edited file is noticed; re-indenting it is not a change.
//!
//! This makes a file tamper-evident, not tamper-proof: whoever edits it on
//! purpose can recompute the digest. The digest a dry run printed for the
//! change ticket is what makes a swapped plan visible.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// `sha256:` and the hex digest of `doc`'s JSON.
pub fn of<T: Serialize>(doc: &T) -> String {
    let bytes = serde_json::to_vec(doc).expect("documents serialize");
    let hash = Sha256::digest(&bytes);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for b in hash {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The first 12 hex digits, for a line a person reads.
pub fn short(digest: &str) -> &str {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    &hex[..hex.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_change_with_content_only() {
        let a = of(&serde_json::json!({"a": 1, "b": "x"}));
        assert!(a.starts_with("sha256:") && a.len() == 71);
        assert_eq!(a, of(&serde_json::json!({"a": 1, "b": "x"})));
        assert_ne!(a, of(&serde_json::json!({"a": 2, "b": "x"})));
        assert_eq!(short(&a).len(), 12);
    }
}
