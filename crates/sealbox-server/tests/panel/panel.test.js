// The web panel in a real browser: headless Debian Chromium driven by playwright-core, against the
// real `sealbox server` on a free loopback port with a temporary data directory.
//
// Run by scripts/test-panel (which installs Chromium and the npm package and builds the binary):
//   SEALBOX_BIN=target/debug/sealbox PANEL_SCREENSHOTS=/tmp/shots node --test panel.test.js
// Each flow saves a screenshot into PANEL_SCREENSHOTS.
"use strict";

const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { spawn } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { chromium } = require("playwright-core");

const BIN = path.resolve(process.env.SEALBOX_BIN || path.join(__dirname, "../../../../target/debug/sealbox"));
const SHOTS = process.env.PANEL_SCREENSHOTS || fs.mkdtempSync(path.join(os.tmpdir(), "sealbox-panel-shots-"));
const REVEAL_SECONDS = 3;
const EDITOR = { email: "eddie@example.com", password: "editor-password-123" };
const TEXT_VALUE = "sk_live_panel_test_value_42";
const NEW_TEXT_VALUE = "sk_live_rotated_value_43";

let server, base, dataDir, owner, browser, ctx, page;
const outside = [];

function shot(p, name) {
  return p.screenshot({ path: path.join(SHOTS, name + ".png"), fullPage: true });
}

async function api(method, urlPath, token, body) {
  const resp = await fetch(base + urlPath, {
    method,
    headers: { authorization: "Bearer " + token, "content-type": "application/json" },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await resp.text();
  return { status: resp.status, body: text ? JSON.parse(text) : null };
}

async function signIn(p, email, password) {
  await p.goto(base + "/login");
  await p.fill("#email", email);
  await p.fill("#password", password);
  await Promise.all([p.waitForNavigation(), p.click("button[type=submit]")]);
}

before(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  console.log("# screenshots: " + SHOTS);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sealbox-panel-data-"));
  server = spawn(BIN, ["server", "--listen", "127.0.0.1:0", "--data-dir", dataDir], {
    env: { ...process.env, SEALBOX_PANEL_REVEAL_SECONDS: String(REVEAL_SECONDS), SEALBOX_LOG: "warn" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  server.stderr.on("data", (d) => { stderr += d; });
  base = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error("server did not start: " + out + stderr)), 30000);
    server.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    server.on("exit", (code) => reject(new Error("server exited " + code + ": " + out + stderr)));
  });
  owner = JSON.parse(fs.readFileSync(path.join(dataDir, "bootstrap.json"), "utf8"));
  const added = await api("POST", "/v1/members", owner.token, { email: EDITOR.email, role: "editor", password: EDITOR.password });
  assert.equal(added.status, 201, JSON.stringify(added.body));
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await ctx.newPage();
  // No request may leave the server's origin (no CDN, no font, no beacon).
  page.on("request", (req) => {
    const url = req.url();
    if (!url.startsWith(base) && !url.startsWith("data:") && !url.startsWith("about:")) {
      outside.push(url);
    }
  });
});

after(async () => {
  if (browser) await browser.close();
  if (server) server.kill("SIGTERM");
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  console.log("# screenshots: " + SHOTS);
});

test("sign-in: a wrong password shows an error on the form, the right one opens the secrets", async () => {
  await page.goto(base + "/");
  assert.match(page.url(), /\/login$/);
  await page.fill("#email", owner.email);
  await page.fill("#password", "not-the-password");
  await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
  const error = await page.textContent("#login-error");
  assert.match(error, /e-mail, password or workspace is wrong/);
  assert.equal(await page.inputValue("#email"), owner.email, "the e-mail is kept");
  assert.equal(await page.inputValue("#password"), "", "the password is not");
  await shot(page, "01-login-wrong-password");

  await page.fill("#password", owner.password);
  await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
  assert.equal(new URL(page.url()).pathname, "/");
  assert.equal(await page.textContent("h1"), "Secrets");
  const cookies = await ctx.cookies();
  const session = cookies.find((c) => c.name === "sealbox_session");
  assert.ok(session, "session cookie set");
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, "Strict");
  assert.ok(session.expires > Date.now() / 1000, "the session expires");
  assert.equal(await page.evaluate(() => document.cookie), "", "scripts cannot read the cookie");
  await shot(page, "02-secrets-empty");
});

test("creating a secret of each type in the side panel", async () => {
  // text, with the live character counter
  await page.click("text=+ New Secret");
  await page.waitForSelector("#new-secret.open");
  assert.equal(await page.evaluate(() => document.activeElement.id), "n-name", "focus moves into the panel");
  await page.fill("#n-name", "STRIPE_KEY");
  await page.selectOption("#n-type", "text");
  await page.fill("#n-value", TEXT_VALUE);
  assert.equal(await page.textContent('[data-counter-for="n-value"] [data-counter]'), String(TEXT_VALUE.length));
  assert.equal(await page.isVisible("#n-host"), false, "SMTP fields hidden for text");
  await page.fill("#n-desc", "Stripe live key");
  await page.fill("#n-tags", "env=prod, team=payments");
  await page.fill("#n-meta", '{"owner": "payments"}');
  await shot(page, "03-new-secret-text");
  await Promise.all([page.waitForNavigation(), page.click("#new-secret-form button[type=submit]")]);
  assert.match(page.url(), /\/secrets\/STRIPE_KEY\?notice=created$/);
  assert.match(await page.textContent(".notice"), /created/);

  // smtp: port defaults to 587
  await page.goto(base + "/");
  await page.click("text=+ New Secret");
  await page.fill("#n-name", "MAILER");
  await page.selectOption("#n-type", "smtp");
  assert.equal(await page.isVisible("#n-value"), false, "text field hidden for SMTP");
  assert.equal(await page.inputValue("#n-port"), "587");
  await page.fill("#n-host", "smtp.example.com");
  await page.fill("#n-username", "mailer");
  await page.fill("#n-password", "smtp-password-1");
  await page.fill("#n-from", "noreply@example.com");
  await page.fill("#n-tags", "env=prod");
  await shot(page, "04-new-secret-smtp");
  await Promise.all([page.waitForNavigation(), page.click("#new-secret-form button[type=submit]")]);
  assert.match(page.url(), /\/secrets\/MAILER/);
  assert.match(await page.textContent(".details"), /smtp\.example\.com/);
  assert.match(await page.textContent(".details"), /587/);

  // aws_sqs, restricted (with the warning that it cannot be changed)
  await page.goto(base + "/");
  await page.click("text=+ New Secret");
  await page.fill("#n-name", "JOBS_QUEUE");
  await page.selectOption("#n-type", "aws_sqs");
  await page.fill("#n-region", "eu-central-1");
  await page.fill("#n-queue", "https://sqs.eu-central-1.amazonaws.com/123456789012/jobs");
  await page.fill("#n-akid", "AKIAEXAMPLE123");
  await page.fill("#n-sak", "sqs-secret-access-key-1");
  assert.match(await page.textContent("#new-secret .warning"), /cannot be changed later/);
  await page.check('input[name=visibility][value=restricted]');
  await Promise.all([page.waitForNavigation(), page.click("#new-secret-form button[type=submit]")]);
  assert.match(page.url(), /\/secrets\/JOBS_QUEUE/);
  assert.match(await page.textContent("#restricted-note"), /can never be displayed/);
  assert.equal(await page.$("form[data-reveal]"), null, "no reveal button for a restricted secret");
  await shot(page, "05-secret-restricted");

  // the list: a table, values never in the page
  await page.goto(base + "/");
  const html = await page.content();
  for (const v of [TEXT_VALUE, "smtp-password-1", "sqs-secret-access-key-1"]) {
    assert.ok(!html.includes(v), "the list page holds no value");
  }
  assert.equal(await page.locator("#secrets-table tbody tr").count(), 3);
  // filters: by type, tag, visibility and name
  await page.selectOption("#f-type", "smtp");
  await page.waitForURL(/type=smtp/);
  assert.equal(await page.locator("#secrets-table tbody tr").count(), 1);
  await page.goto(base + "/?tag=team%3Dpayments");
  assert.equal(await page.locator("#secrets-table tbody tr").count(), 1);
  await page.goto(base + "/?visibility=restricted");
  assert.equal(await page.locator("#secrets-table tbody tr").count(), 1);
  await page.goto(base + "/?q=stripe");
  assert.equal(await page.locator("#secrets-table tbody tr").count(), 1);
  await page.goto(base + "/");
  await shot(page, "06-secrets-list");
  // The README's picture (docs/panel-secrets.png is a copy of it).
  await page.screenshot({ path: path.join(SHOTS, "00-readme-secrets.png"), clip: { x: 0, y: 0, width: 1280, height: 530 } });
});

test("a field error appears beside its field and the form keeps what was typed", async () => {
  await page.goto(base + "/");
  await page.click("text=+ New Secret");
  await page.fill("#n-name", "9 bad name");
  await page.selectOption("#n-type", "smtp");
  await page.fill("#n-host", "mail.example.org");
  await page.fill("#n-port", "70000");
  await page.fill("#n-desc", "kept description");
  await page.fill("#n-tags", "env=staging");
  await Promise.all([page.waitForNavigation(), page.click("#new-secret-form button[type=submit]")]);
  await page.waitForSelector("#new-secret.open");
  // The panel is open again, the error is beside the name, everything typed is still there.
  assert.match(await page.textContent("#err-name"), /must begin with a letter|only letters/);
  assert.equal(await page.getAttribute("#n-name", "aria-invalid"), "true");
  assert.equal(await page.inputValue("#n-name"), "9 bad name");
  assert.equal(await page.inputValue("#n-type"), "smtp");
  assert.equal(await page.inputValue("#n-host"), "mail.example.org");
  assert.equal(await page.inputValue("#n-desc"), "kept description");
  assert.equal(await page.inputValue("#n-tags"), "env=staging");
  await shot(page, "07-field-error");
  // Fix the name: now the port is the problem, beside the port.
  await page.fill("#n-name", "OTHER_MAILER");
  await Promise.all([page.waitForNavigation(), page.click("#new-secret-form button[type=submit]")]);
  const portError = page.locator('#n-port ~ .field-error');
  assert.match(await portError.textContent(), /1-65535|65535/);
  // The bad field is marked, names its message, and has the focus.
  assert.equal(await page.getAttribute("#n-port", "aria-invalid"), "true");
  assert.match(await page.textContent("#" + (await page.getAttribute("#n-port", "aria-describedby"))), /65535/);
  assert.equal(await page.evaluate(() => document.activeElement.id), "n-port");
  await page.keyboard.press("Escape");
  assert.equal(await page.isVisible("#new-secret"), false, "Escape closes the side panel");
});

test("reveal shows a masked value and hides it again on its own", async () => {
  await page.goto(base + "/secrets/STRIPE_KEY");
  const dots = page.locator("[data-dots]");
  assert.equal(await dots.evaluate((e) => getComputedStyle(e).userSelect), "none", "dots cannot be selected");
  assert.ok(!(await dots.textContent()).includes(TEXT_VALUE));
  assert.ok(!(await page.content()).includes(TEXT_VALUE), "the value is not in the page before a reveal");
  await page.click("[data-reveal-button]");
  await page.waitForSelector("[data-revealed]:not([hidden])");
  assert.equal(await page.textContent("[data-revealed]"), TEXT_VALUE);
  assert.equal(await dots.isVisible(), false);
  await shot(page, "08-revealed");
  // Hidden and cleared after REVEAL_SECONDS (30 in production).
  await page.waitForSelector("[data-revealed]", { state: "hidden", timeout: (REVEAL_SECONDS + 3) * 1000 });
  assert.equal(await page.textContent("[data-revealed]"), "", "the value is cleared from the page");
  assert.equal(await dots.isVisible(), true);
  // The reveal was audited.
  const events = await api("GET", "/v1/audit?action=secret.reveal", owner.token);
  assert.ok(events.body.events.some((e) => e.target === "secret:STRIPE_KEY" && e.outcome === "success"));
  await shot(page, "09-hidden-again");
  // Leaving the page while a value is shown and coming back (Back, the page cache) shows dots.
  await page.click("[data-reveal-button]");
  await page.waitForSelector("[data-revealed]:not([hidden])");
  await page.goto(base + "/trash");
  await page.goBack();
  await page.waitForSelector("[data-dots]");
  assert.equal(await page.isVisible("[data-revealed]"), false, "not shown again after Back");
  assert.ok(!(await page.content()).includes(TEXT_VALUE), "the value is not in the page after Back");
});

test("editing the value makes a new version; rollback brings the old value back", async () => {
  await page.goto(base + "/secrets/STRIPE_KEY");
  // An edit that comes back with an error puts the focus (and the view) on the bad field.
  await page.fill("#e-tags", "no-equals-sign");
  await Promise.all([page.waitForNavigation(), page.click("#edit-form button[type=submit]")]);
  assert.equal(await page.getAttribute("#e-tags", "aria-invalid"), "true");
  assert.match(await page.textContent("#" + (await page.getAttribute("#e-tags", "aria-describedby"))), /key=value/);
  assert.equal(await page.evaluate(() => document.activeElement.id), "e-tags", "the error is where the focus is");
  await page.goto(base + "/secrets/STRIPE_KEY");
  await page.fill("#e-value", NEW_TEXT_VALUE);
  await page.fill("#e-desc", "Stripe live key (rotated)");
  await Promise.all([page.waitForNavigation(), page.click("#edit-form button[type=submit]")]);
  assert.match(await page.textContent(".notice"), /saved/);
  const rows = page.locator("#versions-table tbody tr");
  assert.equal(await rows.count(), 2);
  assert.match(await rows.first().textContent(), /v2\s*current/);
  assert.match(await rows.first().textContent(), /admin@sealbox\.local/, "the author is shown");
  assert.equal(await page.inputValue("#e-value"), "", "the edit form never holds the stored value");
  await shot(page, "10-new-version");
  // Rollback to v1 writes v3 with v1's value.
  await Promise.all([page.waitForNavigation(), page.click("text=Roll back to v1")]);
  assert.match(await page.textContent(".notice"), /rolled back/);
  assert.match(await rows.first().textContent(), /v3\s*current/);
  await page.click("[data-reveal-button]");
  await page.waitForSelector("[data-revealed]:not([hidden])");
  assert.equal(await page.textContent("[data-revealed]"), TEXT_VALUE);
  await shot(page, "11-rolled-back");
  await page.click("[data-reveal-button]"); // hides at once
  assert.equal(await page.isVisible("[data-revealed]"), false);
});

test("delete asks for the name in a modal; the trash restores", async () => {
  await page.goto(base + "/secrets/MAILER");
  await page.click("a[data-open=confirm-delete]");
  await page.waitForSelector("#confirm-delete.open");
  assert.equal(await page.evaluate(() => document.activeElement.id), "confirm-name");
  const confirm = page.locator("[data-confirm-button]");
  assert.equal(await confirm.isDisabled(), true);
  await page.fill("#confirm-name", "MAILE");
  assert.equal(await confirm.isDisabled(), true);
  await page.keyboard.press("Escape");
  assert.equal(await page.isVisible("#confirm-delete"), false, "Escape closes the modal");
  await page.click("a[data-open=confirm-delete]");
  await page.fill("#confirm-name", "MAILER");
  assert.equal(await confirm.isDisabled(), false);
  await shot(page, "12-delete-confirm");
  await Promise.all([page.waitForNavigation(), confirm.click()]);
  assert.match(page.url(), /\/trash/);
  assert.match(await page.textContent(".notice"), /moved to the trash/);
  assert.match(await page.textContent("#trash-table"), /MAILER/);
  await shot(page, "13-trash");
  // The server checks the typed name too: a wrong one is refused without JavaScript's help.
  await page.goto(base + "/secrets/JOBS_QUEUE");
  const csrf = await page.getAttribute('form[action="/logout"] input[name=csrf]', "value");
  const status = await page.evaluate(async (csrf) => {
    const r = await fetch("/secrets/JOBS_QUEUE/delete", {
      method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ csrf, confirm_name: "WRONG" }),
    });
    return r.status;
  }, csrf);
  assert.equal(status, 400);
  // Restore.
  await page.goto(base + "/trash");
  await Promise.all([page.waitForNavigation(), page.click("text=Restore MAILER")]);
  assert.match(page.url(), /\/secrets\/MAILER\?notice=restored/);
  assert.match(await page.textContent(".notice"), /restored/);
  await shot(page, "14-restored");
  // Delete for good: from the trash, behind its own typed-name confirmation.
  const api_ = await api("POST", "/v1/secrets", owner.token, { name: "OLD_KEY", type: "text", value: "old-value" });
  assert.equal(api_.status, 201);
  assert.equal((await api("DELETE", "/v1/secrets/OLD_KEY", owner.token)).status, 200);
  await page.goto(base + "/trash");
  await page.click("text=Delete OLD_KEY forever");
  await page.waitForSelector("#confirm-purge.open");
  assert.match(await page.textContent("#confirm-purge-title"), /OLD_KEY/);
  const forever = page.locator("#confirm-purge [data-confirm-button]");
  assert.equal(await forever.isDisabled(), true);
  await page.fill("#purge-name", "OLD_KEY");
  await shot(page, "14a-purge-confirm");
  await Promise.all([page.waitForNavigation(), forever.click()]);
  assert.match(await page.textContent(".notice"), /deleted for good/);
  assert.equal((await api("GET", "/v1/trash", owner.token)).body.secrets.length, 0);
});

test("an editor sees the pages without the controls, and a forged POST is refused", async () => {
  const ectx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const ep = await ectx.newPage();
  await signIn(ep, EDITOR.email, EDITOR.password);
  assert.equal(await ep.textContent("h1"), "Secrets");
  assert.equal(await ep.locator("text=+ New Secret").count(), 0);
  assert.equal(await ep.locator("#new-secret").count(), 0);
  assert.equal(await ep.locator('nav a[href="/members"]').count(), 0);
  assert.equal(await ep.locator('nav a[href="/audit"]').count(), 0);
  await shot(ep, "15-editor-list");
  await ep.goto(base + "/secrets/STRIPE_KEY");
  assert.equal(await ep.locator("#edit-form").count(), 0);
  assert.equal(await ep.locator("a[data-open=confirm-delete], #confirm-delete").count(), 0);
  assert.equal(await ep.locator("text=Roll back").count(), 0);
  // Editors may reveal masked values.
  await ep.click("[data-reveal-button]");
  await ep.waitForSelector("[data-revealed]:not([hidden])");
  await shot(ep, "16-editor-secret");
  // A forged create with a valid CSRF token: core refuses it.
  const csrf = await ep.getAttribute('form[action="/logout"] input[name=csrf]', "value");
  const forged = await ep.evaluate(async (csrf) => {
    const r = await fetch("/secrets", {
      method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ csrf, name: "FORGED", type: "text", value: "x", visibility: "masked" }),
    });
    return { status: r.status, text: await r.text() };
  }, csrf);
  assert.equal(forged.status, 403);
  assert.match(forged.text, /may not create, change or delete secrets/);
  const del = await ep.evaluate(async (csrf) => {
    const r = await fetch("/secrets/STRIPE_KEY/delete", {
      method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ csrf, confirm_name: "STRIPE_KEY" }),
    });
    return r.status;
  }, csrf);
  assert.equal(del, 403);
  const list = await api("GET", "/v1/secrets", owner.token);
  assert.deepEqual(list.body.secrets.map((s) => s.name).sort(), ["JOBS_QUEUE", "MAILER", "STRIPE_KEY"]);
  await ep.goto(base + "/members");
  assert.match(await ep.textContent(".error-message"), /may not manage members/);
  assert.match(await ep.textContent(".request-id"), /^[0-9a-f-]{36}$/);
  await shot(ep, "17-editor-forbidden");
  // A session that ends while a page is open: the reveal says so instead of failing silently.
  await ep.goto(base + "/secrets/STRIPE_KEY");
  const token = (await ectx.cookies()).find((c) => c.name === "sealbox_session").value;
  assert.equal((await api("POST", "/v1/auth/logout", token)).status, 204);
  await ep.click("[data-reveal-button]");
  await ep.waitForFunction(() => /session has ended/.test(document.querySelector("[data-reveal-status]").textContent));
  assert.equal(await ep.isVisible("[data-revealed]"), false);
  await ectx.close();
});

test("without JavaScript every form still works (POST, redirect, GET)", async () => {
  const nctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, javaScriptEnabled: false });
  const np = await nctx.newPage();
  await signIn(np, owner.email, owner.password);
  await Promise.all([np.waitForNavigation(), np.click("text=+ New Secret")]);
  assert.match(np.url(), /\?new=1/);
  assert.equal(await np.isVisible("#new-secret"), true, "the server renders the side panel open");
  await np.fill("#n-name", "NOJS_SECRET");
  await np.fill("#n-value", "nojs-value-1");
  await Promise.all([np.waitForNavigation(), np.click("#new-secret-form button[type=submit]")]);
  assert.match(np.url(), /\/secrets\/NOJS_SECRET\?notice=created/);
  // Reveal without the script: a page that shows the value, then goes back on its own.
  await Promise.all([np.waitForNavigation(), np.click("[data-reveal-button]")]);
  assert.equal(await np.textContent("#revealed-value"), "nojs-value-1");
  await shot(np, "19a-nojs-reveal");
  await np.waitForURL(/\/secrets\/NOJS_SECRET$/, { timeout: (REVEAL_SECONDS + 5) * 1000 });
  assert.ok(!(await np.content()).includes("nojs-value-1"), "hidden again");
  // Delete through the server-rendered modal.
  await Promise.all([np.waitForNavigation(), np.click("a[data-open=confirm-delete]")]);
  assert.equal(await np.isVisible("#confirm-delete"), true);
  await np.fill("#confirm-name", "NOJS_SECRET");
  await Promise.all([np.waitForNavigation(), np.click("[data-confirm-button]")]);
  assert.match(np.url(), /\/trash\?notice=deleted/);
  await nctx.close();
});

test("the Content-Security-Policy blocks an injected inline script", async () => {
  await page.goto(base + "/");
  const result = await page.evaluate(async () => {
    const violations = [];
    document.addEventListener("securitypolicyviolation", (e) => violations.push(e.violatedDirective));
    const s = document.createElement("script");
    s.textContent = "window.__injected = 1;";
    document.body.appendChild(s);
    const d = document.createElement("div");
    d.innerHTML = '<img src="x" onerror="window.__injected2 = 1">';
    document.body.appendChild(d);
    await new Promise((r) => setTimeout(r, 300));
    return { ran: window.__injected === 1 || window.__injected2 === 1, violations };
  });
  assert.equal(result.ran, false, "the inline script did not run");
  assert.ok(result.violations.some((v) => v.startsWith("script-src")), JSON.stringify(result.violations));
  await assert.rejects(page.addScriptTag({ content: "window.__tag = 1" }));
  assert.equal(await page.evaluate(() => window.__tag), undefined);
  const resp = await page.goto(base + "/");
  assert.match(resp.headers()["content-security-policy"], /script-src 'self'/);
  assert.equal(resp.headers()["x-frame-options"], "DENY");
  assert.equal(resp.headers()["cache-control"], "no-store");
  await shot(page, "18-csp");
});

test("identities, tokens shown once, policies, members and the audit log", async () => {
  await page.goto(base + "/identities");
  await page.fill("#i-name", "deploy-bot");
  await page.fill("#i-tags", "team=payments");
  await Promise.all([page.waitForNavigation(), page.click("text=Create identity")]);
  assert.match(page.url(), /\/identities\/deploy-bot/);
  await page.fill("#v-key", "LOG_LEVEL");
  await page.fill("#v-value", "debug");
  await Promise.all([page.waitForNavigation(), page.click("text=Set variable")]);
  assert.match(await page.textContent("#env-table"), /LOG_LEVEL/);
  await page.fill("#k-name", "ci");
  await Promise.all([page.waitForNavigation(), page.click("text=Create token")]);
  const token = await page.textContent("#new-token");
  assert.match(token, /^sbx_/);
  await shot(page, "19-identity-token");
  await page.goto(base + "/identities/deploy-bot");
  assert.ok(!(await page.content()).includes(token), "the token is shown only once");
  await Promise.all([page.waitForNavigation(), page.click("text=Revoke ci")]);
  assert.match(await page.textContent(".notice"), /revoked/);

  await page.goto(base + "/policies");
  await page.fill("#p-name", "payments-prod");
  await page.fill("#p-itags", "team=payments");
  await page.fill("#p-stags", "env=prod");
  await Promise.all([page.waitForNavigation(), page.click("text=Create policy")]);
  assert.match(await page.textContent("#policies-table"), /payments-prod/);
  await shot(page, "20-policies");

  await page.goto(base + "/members");
  await page.fill("#m-email", "newbie@example.com");
  await Promise.all([page.waitForNavigation(), page.click("text=Add member")]);
  assert.ok((await page.textContent("#new-password")).length >= 12, "a generated password is shown once");
  await page.goto(base + "/members");
  const row = page.locator("#members-table tr", { hasText: "newbie@example.com" });
  await row.locator("select").selectOption("admin");
  await Promise.all([page.waitForNavigation(), row.locator("text=Change role").click()]);
  assert.match(await page.textContent(".notice"), /role was changed/);
  await shot(page, "21-members");

  await page.goto(base + "/audit?action=secret.reveal");
  assert.match(await page.textContent("#chain-status"), /Chain verified/);
  assert.match(await page.textContent("#audit-table"), /secret:STRIPE_KEY/);
  await page.goto(base + "/audit");
  await shot(page, "22-audit");

  // Deleting an identity asks for its name in a modal, like a secret.
  assert.equal((await api("POST", "/v1/identities", owner.token, { name: "temp-bot" })).status, 201);
  await page.goto(base + "/identities/temp-bot");
  await page.click("text=Delete identity");
  await page.waitForSelector("#confirm-delete.open");
  assert.equal(await page.evaluate(() => document.activeElement.id), "confirm-name");
  assert.equal(await page.isDisabled("#confirm-delete [data-confirm-button]"), true);
  await page.fill("#confirm-name", "temp-bot");
  await shot(page, "22a-identity-delete-confirm");
  await Promise.all([page.waitForNavigation(), page.click("#confirm-delete [data-confirm-button]")]);
  assert.match(await page.textContent(".notice"), /identity was deleted/);
  assert.equal((await api("GET", "/v1/identities/temp-bot", owner.token)).status, 404);
});

test("the pages read well at 1280 px and at phone width, and work by keyboard", async () => {
  for (const [w, h, tag] of [[1280, 900, "desktop"], [390, 844, "phone"]]) {
    await page.setViewportSize({ width: w, height: h });
    for (const p of ["/", "/secrets/STRIPE_KEY", "/audit"]) {
      await page.goto(base + p);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 1, `${p} at ${w}px scrolls sideways by ${overflow}px`);
    }
    await page.goto(base + "/");
    await shot(page, `23-secrets-${tag}`);
    await page.goto(base + "/secrets/STRIPE_KEY");
    await shot(page, `24-secret-${tag}`);
  }
  await page.setViewportSize({ width: 1280, height: 900 });
  // Every input has a label.
  for (const p of ["/", "/secrets/STRIPE_KEY", "/identities", "/policies", "/members", "/audit"]) {
    await page.goto(base + p);
    const unlabelled = await page.evaluate(() =>
      Array.from(document.querySelectorAll("input:not([type=hidden]), select, textarea"))
        .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute("aria-label"))
        .map((el) => el.name || el.id));
    assert.deepEqual(unlabelled, [], `unlabelled inputs on ${p}`);
  }
  // Keyboard: reach "+ New Secret" with Tab, open it with Enter, close it with Escape.
  await page.goto(base + "/");
  let found = false;
  for (let i = 0; i < 40 && !found; i++) {
    await page.keyboard.press("Tab");
    found = await page.evaluate(() => document.activeElement && document.activeElement.textContent.trim() === "+ New Secret");
  }
  assert.ok(found, "+ New Secret is reachable with Tab");
  await page.keyboard.press("Enter");
  await page.waitForSelector("#new-secret.open");
  await page.keyboard.press("Escape");
  assert.equal(await page.isVisible("#new-secret"), false);
  assert.equal(await page.evaluate(() => document.activeElement.textContent.trim()), "+ New Secret", "focus returns");
});

test("a database secret through the form derived from its fields (issue 10)", async () => {
  await page.goto(base + "/");
  await page.click("text=+ New Secret");
  await page.fill("#n-name", "APP_DATABASE");
  await page.selectOption("#n-type", "database");
  assert.equal(await page.isVisible("#n-host"), false, "SMTP fields hidden for a database");
  assert.equal(await page.isVisible("#n-db_host"), true);
  await page.selectOption("#n-db_engine", "postgres");
  await page.fill("#n-db_host", "db.internal");
  await page.fill("#n-db_name", "app");
  await page.fill("#n-db_username", "app");
  await page.fill("#n-db_password", "db-password-1");
  await shot(page, "24b-new-secret-database");
  await Promise.all([page.waitForNavigation(), page.click("#new-secret-form button[type=submit]")]);
  assert.match(page.url(), /\/secrets\/APP_DATABASE/);
  const details = await page.textContent(".details");
  assert.match(details, /postgres/);
  assert.match(details, /5432/, "the engine's default port");
  assert.ok(!(await page.content()).includes("db-password-1"), "the password is not in the page");
  assert.equal(await page.isVisible("#e-db_password"), true, "the edit form has the type's inputs");
});

test("sign-out revokes the session", async () => {
  const before = (await ctx.cookies()).find((c) => c.name === "sealbox_session").value;
  await page.goto(base + "/");
  await Promise.all([page.waitForNavigation(), page.click("text=Sign out")]);
  assert.match(page.url(), /\/login\?notice=signed_out/);
  assert.match(await page.textContent(".notice"), /signed out/);
  const whoami = await fetch(base + "/v1/auth/whoami", { headers: { authorization: "Bearer " + before } });
  assert.equal(whoami.status, 401, "the old session token no longer works");
  await ctx.addCookies([{ name: "sealbox_session", value: before, url: base }]);
  await page.goto(base + "/");
  assert.match(page.url(), /\/login\?notice=session_ended$/, "a revoked session goes back to sign-in");
  assert.match(await page.textContent(".notice"), /session has ended/, "and the page says why");
  assert.equal((await ctx.cookies()).find((c) => c.name === "sealbox_session"), undefined, "the dead cookie is cleared");
  await shot(page, "25-signed-out");
  assert.deepEqual(outside, [], "no request left the server's origin");
});
