//! Reading policy files, naming their policies and validating the set against the schema.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use cedar_policy::{PolicyId, PolicySet, ValidationError, ValidationMode, Validator};
use miette::Diagnostic;
use sha2::{Digest, Sha256};

use crate::error::{PolicyError, Problem};
use crate::position::line_col;

/// A policy file's path and text.
pub(crate) struct SourceFile {
    pub(crate) path: PathBuf,
    pub(crate) text: String,
}

/// The `.cedar` files named by `paths`: each path is a file, or a directory whose `.cedar`
/// files (not its subdirectories) are taken in name order.
pub(crate) fn read_sources(paths: &[PathBuf]) -> Result<Vec<SourceFile>, PolicyError> {
    let read_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PolicyError::Read { path, source }
    };
    let mut files = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(read_err(path))?;
        if meta.is_dir() {
            let mut names = Vec::new();
            for entry in std::fs::read_dir(path).map_err(read_err(path))? {
                let entry = entry.map_err(read_err(path))?;
                let file = entry.path();
                if file.extension().is_some_and(|e| e == "cedar") && file.is_file() {
                    names.push(file);
                }
            }
            names.sort();
            files.extend(names);
        } else {
            files.push(path.clone());
        }
    }
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).map_err(read_err(&path))?;
            Ok(SourceFile { path, text })
        })
        .collect()
}

/// A digest of the files' paths and contents, to tell an unchanged set on reload.
pub(crate) fn content_hash(files: &[SourceFile]) -> [u8; 32] {
    let mut hash = Sha256::new();
    for file in files {
        let path = file.path.to_string_lossy();
        for part in [path.as_bytes(), file.text.as_bytes()] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part);
        }
    }
    hash.finalize().into()
}

/// Where a policy came from.
struct Origin {
    file: usize,
    offset: usize,
}

/// Parses every file, names every policy, and validates the whole set against the schema.
pub(crate) fn compile(
    files: &[SourceFile],
    validator: &Validator,
) -> Result<PolicySet, PolicyError> {
    let mut problems = Vec::new();
    let mut set = PolicySet::new();
    let mut origins: HashMap<PolicyId, Origin> = HashMap::new();
    for (index, file) in files.iter().enumerate() {
        let problem = |offset: usize, message: String| {
            let (line, column) = line_col(&file.text, offset);
            Problem {
                file: file.path.clone(),
                line,
                column,
                message,
            }
        };
        let parsed = match PolicySet::from_str(&file.text) {
            Ok(parsed) => parsed,
            Err(errors) => {
                for error in errors.iter() {
                    let label = error.labels().and_then(|mut l| l.next());
                    let offset = label.as_ref().map_or(0, |l| l.offset());
                    let mut message = error.to_string();
                    if let Some(text) = label.as_ref().and_then(|l| l.label()) {
                        message = format!("{message}: {text}");
                    }
                    problems.push(problem(offset, message));
                }
                continue;
            }
        };
        for template in parsed.templates() {
            let offset = file.text.find(&template.to_string()).unwrap_or(0);
            problems.push(problem(
                offset,
                "policy templates (with ?principal or ?resource) are not supported".to_owned(),
            ));
        }
        // `PolicySet::from_str` names the policies `policy0`, `policy1`, ... in file order;
        // each policy's text is the original text, so it is found again in order.
        let mut ordered: Vec<_> = parsed
            .policies()
            .map(|p| {
                let n = p
                    .id()
                    .to_string()
                    .trim_start_matches("policy")
                    .parse::<usize>();
                (n.unwrap_or(usize::MAX), p)
            })
            .collect();
        ordered.sort_by_key(|(n, _)| *n);
        let file_name = file
            .path
            .file_name()
            .map_or_else(|| file.path.to_string_lossy(), |n| n.to_string_lossy());
        let mut cursor = 0;
        for (_, policy) in ordered {
            let text = policy.to_string();
            let offset = file
                .text
                .get(cursor..)
                .and_then(|rest| rest.find(&text))
                .map_or(cursor, |at| cursor + at);
            cursor = offset + text.len();
            let id = match policy.annotation("id") {
                Some(id) => id.to_owned(),
                None => format!("{file_name}:{}", line_col(&file.text, offset).0),
            };
            let id = PolicyId::new(id);
            if let Some(first) = origins.get(&id) {
                let (line, column) = files
                    .get(first.file)
                    .map_or((1, 1), |f| line_col(&f.text, first.offset));
                let first_file = files.get(first.file).map(|f| f.path.display().to_string());
                problems.push(problem(
                    offset,
                    format!(
                        "duplicate policy id `{id}` (first used at {}:{line}:{column})",
                        first_file.unwrap_or_default()
                    ),
                ));
                continue;
            }
            if let Err(error) = set.add(policy.new_id(id.clone())) {
                problems.push(problem(offset, error.to_string()));
                continue;
            }
            origins.insert(
                id,
                Origin {
                    file: index,
                    offset,
                },
            );
        }
    }
    if !problems.is_empty() {
        return Err(PolicyError::Invalid { problems });
    }

    let result = validator.validate(&set, ValidationMode::Strict);
    let span_text = |error: &ValidationError| {
        let origin = origins.get(error.policy_id())?;
        let file = files.get(origin.file)?;
        let span = error.labels().and_then(|mut l| l.next())?;
        file.text.get(span.offset()..span.offset() + span.len())
    };
    // Policies that read a free-form record: the validator forgets what earlier `has` tests
    // established after the failed access (see `is_free_form_access`), so its "optional
    // attribute not guarded" errors after one are not trustworthy there. An unguarded access
    // that really is missing fails at evaluation, which never allows.
    let free_form: HashSet<&PolicyId> = result
        .validation_errors()
        .filter(|e| is_free_form_access(e, span_text(e)))
        .map(ValidationError::policy_id)
        .collect();
    for error in result.validation_errors() {
        if is_free_form_access(error, span_text(error))
            || (matches!(error, ValidationError::UnsafeOptionalAttributeAccess(_))
                && free_form.contains(error.policy_id()))
        {
            continue;
        }
        let Some(origin) = origins.get(error.policy_id()) else {
            continue;
        };
        let Some(file) = files.get(origin.file) else {
            continue;
        };
        let offset = error
            .labels()
            .and_then(|mut l| l.next())
            .map_or(origin.offset, |l| l.offset());
        let mut message = error.to_string();
        if let Some(help) = error.help() {
            message = format!("{message} ({help})");
        }
        let (line, column) = line_col(&file.text, offset);
        problems.push(Problem {
            file: file.path.clone(),
            line,
            column,
            message,
        });
    }
    if problems.is_empty() {
        Ok(set)
    } else {
        problems.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
        Err(PolicyError::Invalid { problems })
    }
}

/// The free-form records: present at run time, absent from the schema.
const FREE_FORM: [&str; 2] = ["context.arguments", "principal.claims"];

/// Whether a validation error is only the validator not knowing a free-form record.
///
/// Cedar 4 has no open records in a validated schema (`additionalAttributes` is rejected
/// unless the experimental `partial-validate` feature is on), and an empty closed record would
/// be worse: the validator types `context.arguments has path` as `false`, skips the right side
/// of `&&` and the policy silently becomes "impossible". So `arguments` and `claims` are left
/// out of the schema, and the one error each access to them causes — "attribute not found",
/// located on the access expression — is dropped here. The validator keeps checking the rest
/// of the policy (it recovers from a failed access), so real type errors elsewhere are still
/// reported; only the operations applied to a free-form value go unchecked.
fn is_free_form_access(error: &ValidationError, span: Option<&str>) -> bool {
    if !matches!(error, ValidationError::UnsafeAttributeAccess(_)) {
        return false;
    }
    let Some(span) = span else {
        return false;
    };
    let compact: String = span.chars().filter(|c| !c.is_whitespace()).collect();
    FREE_FORM.iter().any(|prefix| {
        compact
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.chars().next().is_none_or(|c| c == '.' || c == '['))
    })
}
