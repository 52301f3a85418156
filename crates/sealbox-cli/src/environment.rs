//! The caller's environment: `sealbox env`, `inject`, `import` and `export` (`.env` files are
//! read and written by `dotenv`; `sealbox run` is in `run`).

use crate::output::{self, outln};
use crate::{Ctx, input, usage};

/// `sealbox env`: the caller's context environment, as shell assignments or (with --json) a JSON
/// object.
pub async fn env(ctx: &Ctx) -> anyhow::Result<()> {
    let env = ctx.client.environment().await?;
    if ctx.json {
        return output::json(&env.variables);
    }
    // Check every key before printing anything, so a bad one never leaves half an environment.
    if let Some(bad) = env.variables.keys().find(|k| !is_shell_name(k)) {
        anyhow::bail!(
            "the server sent a variable name that is not a valid shell name ({bad:?}); use --json to read it"
        );
    }
    for (key, value) in &env.variables {
        // EXPOSE: printing the caller's environment is what `sealbox env` is for.
        outln!("export {key}={}", shell_quote(value));
    }
    Ok(())
}

pub async fn import(ctx: &Ctx, file: &std::path::Path, dry_run: bool, tags: &[String]) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let tags = input::parse_tags(tags)?;
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let entries = crate::dotenv::parse(&text).map_err(|problems| {
        anyhow::anyhow!(
            "{} has errors, nothing was imported:\n  {}",
            file.display(),
            problems.join("\n  ")
        )
    })?;
    let secrets = entries.into_iter().map(|e| (e.key, e.value)).collect();
    let outcome = ctx
        .client
        .import(&sealbox_types::ImportRequest {
            secrets,
            dry_run,
            tags: (!tags.is_empty()).then_some(tags),
        })
        .await?;
    if ctx.json {
        return output::json(&outcome);
    }
    let verb = |done: &str, would: &str| if dry_run { would.to_owned() } else { done.to_owned() };
    for (names, done, would) in [
        (&outcome.created, "created", "would create"),
        (&outcome.changed, "updated", "would update"),
        (&outcome.unchanged, "unchanged", "unchanged"),
    ] {
        for name in names {
            let uncompared = if outcome.not_compared.contains(name) {
                " (restricted: replaced without comparing)"
            } else {
                ""
            };
            outln!("{:<12} {name}{uncompared}", verb(done, would));
        }
    }
    eprintln!(
        "{} created, {} changed, {} unchanged{}",
        outcome.created.len(),
        outcome.changed.len(),
        outcome.unchanged.len(),
        if dry_run { " (dry run: nothing was written)" } else { "" }
    );
    Ok(())
}

/// `sealbox export`: `--format json`, or `--json`, prints a JSON object; the default is a .env
/// file (see `dotenv::lines`), written only when every value can be.
pub async fn export(ctx: &Ctx, format: Option<crate::ExportFormat>) -> anyhow::Result<()> {
    use crate::ExportFormat::{Dotenv, Json};
    let format = match (format, ctx.json) {
        (Some(Dotenv), true) => usage!("--json prints JSON; leave out --json or --format dotenv"),
        (Some(format), _) => format,
        (None, true) => Json,
        (None, false) => Dotenv,
    };
    let env = ctx.client.environment().await?;
    if let Json = format {
        return output::json(&env.variables);
    }
    // Every line is made before any is printed, so a value that cannot be written never leaves
    // half a file.
    let mut lines = Vec::with_capacity(env.variables.len());
    let mut refused = Vec::new();
    for (key, value) in &env.variables {
        if !is_shell_name(key) {
            refused.push(format!("{key:?}: not a valid variable name"));
            continue;
        }
        // EXPOSE: exporting the caller's readable secrets is what the command is for; a refusal
        // names the key and the reason, never the value.
        match crate::dotenv::lines(key, value) {
            Ok(written) => lines.extend(written),
            Err(why) => refused.push(format!("{key}: {why}")),
        }
    }
    if !refused.is_empty() {
        anyhow::bail!(
            "nothing was exported: no .env lines carry these values the same way for sh, bash and python-dotenv:\n  {}\nexport them with --format json",
            refused.join("\n  ")
        );
    }
    for line in lines {
        outln!("{line}");
    }
    Ok(())
}

/// `sealbox inject`: renders a template (from a file or stdin) to where `-o` leads (stdout by
/// default); see `outfile` for how a path is written.
pub async fn inject(
    ctx: &Ctx,
    input: Option<&std::path::Path>,
    output: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let template = match input.filter(|p| !crate::outfile::is_stdio(p)) {
        Some(path) => {
            std::fs::read_to_string(path).with_context(|| format!("cannot read the template {}", path.display()))?
        }
        None if input.is_none() && crate::stdin_is_terminal() => {
            usage!("give the template with -i FILE or on stdin (`sealbox inject < config.tmpl`)")
        }
        None => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .context("cannot read the template from stdin")?;
            text
        }
    };
    let rendered = ctx.client.render(&sealbox_types::RenderRequest { template }).await?;
    // EXPOSE: writing the rendered values where the caller asked is what inject is for.
    let written = crate::outfile::write(output, rendered.rendered.as_bytes())?;
    let (path, note) = match &written {
        // The rendered text is the output; nothing else goes there.
        crate::outfile::Written::Stdout => return Ok(()),
        crate::outfile::Written::Through(path) => (path, ""),
        crate::outfile::Written::File(path) => (path, " (mode 0600)"),
    };
    if ctx.json {
        return output::json(&serde_json::json!({ "written": path.display().to_string() }));
    }
    eprintln!("wrote {}{note}", path.display());
    Ok(())
}

/// A POSIX shell word for `value`: single quotes, with each `'` written as `'\''`. Nothing is
/// special inside single quotes, so `$`, backquotes, `\`, `"`, spaces and newlines stay literal.
pub fn shell_quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if c == '\'' {
            out.push_str(r"'\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// A name a POSIX shell accepts on the left of `=`.
fn is_shell_name(key: &str) -> bool {
    key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's $HOME `x` \\"), r"'it'\''s $HOME `x` \'");
        assert_eq!(shell_quote("''"), r"''\'''\'''");
    }

    #[test]
    fn shell_names() {
        for ok in ["A", "_x", "DB_URL2"] {
            assert!(is_shell_name(ok), "{ok}");
        }
        for bad in ["", "1A", "A-B", "A;rm", "A B", "É"] {
            assert!(!is_shell_name(bad), "{bad}");
        }
    }
}
