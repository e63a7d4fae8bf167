//! sqlcmd-style scripts: batches separated by lines holding only `GO`
//! (any case, optionally followed by a repeat count).

/// One batch of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Batch {
    pub text: String,
    /// 1-based line of the script where the batch starts.
    pub first_line: u32,
    /// How many times to run it (`GO 3`).
    pub count: u32,
}

/// The repeat count if `line` is a batch separator.
fn separator(line: &str) -> Option<u32> {
    let mut words = line.split_whitespace();
    let first = words.next()?;
    if !first.eq_ignore_ascii_case("go") {
        return None;
    }
    let count = match words.next() {
        None => 1,
        Some(n) => n.parse::<u32>().ok().filter(|n| *n > 0)?,
    };
    if words.next().is_some() {
        return None;
    }
    Some(count)
}

/// Splits a script into batches; batches with nothing but white space are
/// dropped.
pub(crate) fn split_batches(script: &str) -> Vec<Batch> {
    let mut out = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut first_line = 1u32;
    let push = |lines: &mut Vec<&str>, first: u32, count: u32, out: &mut Vec<Batch>| {
        let text = lines.join("\n");
        if !text.trim().is_empty() {
            out.push(Batch {
                text,
                first_line: first,
                count,
            });
        }
        lines.clear();
    };
    for (i, line) in script.lines().enumerate() {
        let line_no = i as u32 + 1;
        if let Some(count) = separator(line) {
            push(&mut current, first_line, count, &mut out);
            first_line = line_no + 1;
        } else {
            current.push(line);
        }
    }
    push(&mut current, first_line, 1, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_go_lines() {
        let b = split_batches("SELECT 1\ngo\n\nSELECT 2\n  GO 2  \nSELECT 3 -- GO\nGOTO x\n");
        assert_eq!(b.len(), 3);
        assert_eq!(
            b[0],
            Batch {
                text: "SELECT 1".into(),
                first_line: 1,
                count: 1
            }
        );
        assert_eq!(b[1].first_line, 3);
        assert_eq!(b[1].count, 2);
        assert_eq!(b[2].text, "SELECT 3 -- GO\nGOTO x");
        assert!(split_batches("GO\n  \nGO").is_empty());
    }
}
