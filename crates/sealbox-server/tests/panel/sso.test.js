// Single sign-on in a real browser against a real OpenID Connect provider: `oidc-provider` (an
// OpenID Certified implementation, pinned in package-lock.json) runs in this process on
// 127.0.0.1 with a test client and test accounts, its own login and consent pages
// (devInteractions: any password), over plain http on loopback (Sealbox accepts an http issuer
// only on a loopback address). Headless Chromium signs in through those pages.
//
// The refusals a real provider cannot be made to produce (a nonce mismatch, an expired or wrongly
// signed ID token) are tested against a small issuer in tests/it/sso.rs.
//
// Run by scripts/test-panel:
//   SEALBOX_BIN=target/debug/sealbox node --test sso.test.js
"use strict";

const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { spawn } = require("node:child_process");
const fs = require("node:fs");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");
const { chromium } = require("playwright-core");

const BIN = path.resolve(process.env.SEALBOX_BIN || path.join(__dirname, "../../../../target/debug/sealbox"));
const SHOTS = process.env.PANEL_SCREENSHOTS || fs.mkdtempSync(path.join(os.tmpdir(), "sealbox-panel-shots-"));
const CLIENT_ID = "sealbox-panel-test";
const CLIENT_SECRET = "panel-test-client-secret-5d2e";
// Accounts at the provider: the login typed on its page is the account id.
const ACCOUNTS = {
  owner: { email: "admin@sealbox.local", email_verified: true, groups: [] },
  eve: { email: "eve@example.com", email_verified: false, groups: [] },
  nina: { email: "nina@example.com", email_verified: true, groups: ["platform"] },
};

let server, provider, base, issuer, dataDir, homeDir, owner, browser;
const outputs = [];

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

function shot(p, name) {
  return p.screenshot({ path: path.join(SHOTS, name + ".png"), fullPage: true });
}

async function api(method, urlPath, token, body) {
  const headers = { "content-type": "application/json" };
  if (token) headers.authorization = "Bearer " + token;
  const resp = await fetch(base + urlPath, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const text = await resp.text();
  return { status: resp.status, body: text ? JSON.parse(text) : null };
}

/// Signs in at the provider's own pages: its login form, then its consent page when it asks.
async function providerSignIn(page, login) {
  await page.waitForURL((u) => u.toString().startsWith(issuer));
  await page.fill('input[name="login"]', login);
  await page.fill('input[name="password"]', "any password at the dev provider");
  await shot(page, "sso-10-provider-login-" + login);
  await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
  if (page.url().startsWith(issuer) && (await page.$('input[name="prompt"][value="consent"]'))) {
    await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
  }
}

before(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  const { default: Provider } = await import("oidc-provider");
  const sealboxPort = await freePort();
  base = "http://127.0.0.1:" + sealboxPort;
  const providerPort = await freePort();
  issuer = "http://127.0.0.1:" + providerPort;
  const oidc = new Provider(issuer, {
    clients: [{
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      redirect_uris: [base + "/sso/callback"],
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
    }],
    pkce: { required: () => true },
    claims: { openid: ["sub"], email: ["email", "email_verified"], groups: ["groups"] },
    // The claims of the scopes asked for go into the ID token itself.
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: true } },
    cookies: { keys: ["sealbox-panel-test-cookie-key"] },
    async findAccount(ctx, id) {
      const account = ACCOUNTS[id] || { email: id + "@unknown.example", email_verified: true, groups: [] };
      return { accountId: id, async claims() { return { sub: id, ...account }; } };
    },
  });
  oidc.on("server_error", (ctx, err) => outputs.push("provider error: " + err));
  provider = oidc.listen(providerPort, "127.0.0.1");

  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sealbox-sso-data-"));
  homeDir = fs.mkdtempSync(path.join(os.tmpdir(), "sealbox-sso-home-"));
  server = spawn(BIN, [
    "server", "--listen", "127.0.0.1:" + sealboxPort, "--data-dir", dataDir,
    "--oidc-issuer", issuer, "--oidc-client-id", CLIENT_ID,
    "--oidc-redirect-url", base + "/sso/callback", "--oidc-scopes", "email profile groups",
  ], {
    env: { ...process.env, SEALBOX_OIDC_CLIENT_SECRET: CLIENT_SECRET, SEALBOX_LOG: "warn" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  server.stderr.on("data", (d) => { stderr += d; });
  await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error("server did not start: " + out + stderr)), 30000);
    server.stdout.on("data", (d) => {
      out += d;
      if (out.includes("listening on " + base)) { clearTimeout(timer); resolve(); }
    });
    server.on("exit", (code) => reject(new Error("server exited " + code + ": " + out + stderr)));
  });
  owner = JSON.parse(fs.readFileSync(path.join(dataDir, "bootstrap.json"), "utf8"));
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (server) server.kill("SIGTERM");
  if (provider) provider.close();
  for (const dir of [dataDir, homeDir]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
  if (outputs.length) console.log("# " + outputs.join("\n# "));
});

test("sso: Chromium signs in through the provider's own pages; the callback cannot be replayed", async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  let callback = null;
  page.on("request", (req) => {
    if (req.url().startsWith(base + "/sso/callback")) callback = req.url();
  });
  await page.goto(base + "/login");
  await shot(page, "sso-01-login-with-sso");
  await page.click("#sso-sign-in");
  await providerSignIn(page, "owner");
  await page.waitForURL(base + "/");
  assert.equal(await page.textContent("h1"), "Secrets");
  assert.match(await page.textContent("body"), /admin@sealbox\.local/);
  const cookies = await ctx.cookies(base);
  const session = cookies.find((c) => c.name === "sealbox_session");
  assert.ok(session, "session cookie set");
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, "Strict");
  assert.ok(!cookies.find((c) => c.name === "sealbox_sso"), "the state cookie is gone");
  await shot(page, "sso-02-signed-in");

  // The provider's code and the state, sent again: refused, nobody else signed in.
  assert.ok(callback, "the provider sent the browser back to /sso/callback");
  const replay = await ctx.newPage();
  const resp = await replay.goto(callback);
  assert.equal(resp.status(), 401);
  assert.match(await replay.textContent("#login-error"), /not begun in this browser|used already or has expired/);
  await shot(replay, "sso-03-replay-refused");

  const audit = await api("GET", "/v1/audit?action=auth.sso_login", owner.token);
  const ok = audit.body.events.filter((e) => e.outcome === "success");
  assert.equal(ok.length, 1);
  assert.equal(ok[0].detail.issuer, issuer);
  assert.equal(ok[0].detail.subject, "owner");
  await ctx.close();
});

test("sso: a forged state and an unverified e-mail are refused on the sign-in page", async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const forged = await page.goto(base + "/sso/callback?code=made-up&state=forged-state");
  assert.equal(forged.status(), 401);
  assert.match(await page.textContent("#login-error"), /not begun in this browser/);

  await page.goto(base + "/login");
  await page.click("#sso-sign-in");
  await providerSignIn(page, "eve");
  await page.waitForURL((u) => u.toString().startsWith(base + "/sso/callback"));
  assert.match(await page.textContent("#login-error"), /email_verified/);
  await shot(page, "sso-04-unverified-refused");
  const cookies = await ctx.cookies(base);
  assert.ok(!cookies.find((c) => c.name === "sealbox_session"), "no session");
  await ctx.close();
});

test("sso: a new person is created with the role their group maps to, once the workspace allows it", async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(base + "/login");
  await page.click("#sso-sign-in");
  await providerSignIn(page, "nina");
  await page.waitForURL((u) => u.toString().startsWith(base + "/sso/callback"));
  assert.match(await page.textContent("#login-error"), /nina@example\.com is not a member/);

  const set = await api("PATCH", "/v1/workspace/sso", owner.token,
    { create_members: "editor", group_roles: { platform: "admin" } });
  assert.equal(set.status, 200, JSON.stringify(set.body));
  await page.goto(base + "/login");
  await page.click("#sso-sign-in");
  // The provider remembers nina: it may go straight back.
  if (page.url().startsWith(issuer)) await providerSignIn(page, "nina");
  await page.waitForURL(base + "/");
  const members = await api("GET", "/v1/members", owner.token);
  const nina = members.body.members.find((m) => m.email === "nina@example.com");
  assert.equal(nina.role, "admin");
  await ctx.close();
});

test("sso: sealbox login --sso finishes in the browser and keeps the session like a password login", async () => {
  const env = { ...process.env, SEALBOX_ADDR: base, HOME: homeDir, XDG_CONFIG_HOME: path.join(homeDir, ".config") };
  delete env.SEALBOX_TOKEN;
  const cli = spawn(BIN, ["login", "--sso", "--no-browser"], { env, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "", stdout = "";
  cli.stdout.on("data", (d) => { stdout += d; });
  // Listened for at once: the CLI may be done before the page is.
  const exited = new Promise((resolve) => cli.on("exit", resolve));
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no URL from the CLI: " + stderr)), 15000);
    cli.stderr.on("data", (d) => {
      stderr += d;
      const m = stderr.match(/(http:\/\/127\.0\.0\.1:\d+\/sso\/start\?\S+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
  });
  assert.match(url, /cli_redirect=http%3A%2F%2F127\.0\.0\.1%3A\d+%2Fcallback/);
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(url);
  await providerSignIn(page, "owner");
  await page.waitForURL(/^http:\/\/127\.0\.0\.1:\d+\/callback\?code=/);
  assert.match(await page.textContent("body"), /go back to the terminal/);
  const code = await exited;
  assert.equal(code, 0, stderr + stdout);
  assert.match(stdout, /signed in to .* as admin@sealbox\.local \(owner\)/);
  const cookieless = await ctx.cookies(base);
  assert.ok(!cookieless.find((c) => c.name === "sealbox_session"), "the browser got no session");

  const whoami = spawn(BIN, ["whoami"], { env, stdio: ["ignore", "pipe", "pipe"] });
  const whoamiExit = new Promise((resolve) => whoami.on("exit", resolve));
  let out = "";
  whoami.stdout.on("data", (d) => { out += d; });
  assert.equal(await whoamiExit, 0);
  assert.match(out, /admin@sealbox\.local \(member, owner\) in workspace default/);
  await ctx.close();
});

test("sso: with password sign-in turned off the password form says to use SSO", async () => {
  const off = await api("PATCH", "/v1/workspace/sso", owner.token, { password_sign_in: false });
  assert.equal(off.status, 200, JSON.stringify(off.body));
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(base + "/login");
  await page.fill("#email", owner.email);
  await page.fill("#password", owner.password);
  await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
  assert.match(await page.textContent("#login-error"), /single sign-on only/);
  await shot(page, "sso-05-passwords-off");
  await page.click("#sso-sign-in");
  if (page.url().startsWith(issuer)) await providerSignIn(page, "owner");
  await page.waitForURL(base + "/");
  const on = await api("PATCH", "/v1/workspace/sso", owner.token, { password_sign_in: true });
  assert.equal(on.status, 200);
  await ctx.close();
});
