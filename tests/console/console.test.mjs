// The review console in headless Chromium, run by tests/e2e/console.rs against a seeded server.
// Exits non-zero on the first failed expectation; every page is saved as a screenshot.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import path from "node:path";

const base = process.env.FIELDSYNC_URL;
const password = process.env.PASSWORD;
const shots = process.env.SHOTS;
const cadre = process.env.CADRE_NAME;
const office = { width: 1366, height: 768 };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM,
  args: ["--no-sandbox", "--font-render-hinting=none"],
});

async function shot(page, name) {
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
  console.log(`screenshot ${name}`);
}

async function signIn(page, username, next) {
  const res = await page.goto(`${base}${next}`);
  assert.equal(res.status(), 200);
  assert.match(page.url(), /\/console\/login\?next=/, "an anonymous visitor is sent to sign in");
  await page.fill("input[name=username]", username);
  await page.fill("input[name=password]", password);
  await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
}

async function open(page, url, name) {
  const res = await page.goto(`${base}${url}`);
  assert.equal(res.status(), 200, `${url} answered ${res.status()}`);
  await shot(page, name);
  return res;
}

try {
  // A wrong password is refused on the page, in Chinese.
  const context = await browser.newContext({ viewport: office, locale: "zh-CN" });
  const page = await context.newPage();
  page.on("dialog", (d) => d.accept());
  await page.goto(`${base}/console/login`);
  await page.fill("input[name=username]", process.env.SUPERVISOR);
  await page.fill("input[name=password]", "wrong password");
  await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
  assert.match(await page.textContent("[data-testid=login-problem]"), /用户名或密码不对/);
  await shot(page, "login");

  // The township supervisor signs in and lands on the attendance list.
  await signIn(page, process.env.SUPERVISOR, "/console/attendance");
  assert.match(page.url(), /\/console\/attendance$/);
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === "fs_console");
  assert.ok(session, "a session cookie is set");
  assert.equal(session.httpOnly, true, "the session cookie is HttpOnly");
  assert.equal(session.sameSite, "Lax");
  assert.match(await page.textContent("[data-testid=who]"), /张秀兰/);
  const row = page.locator("[data-testid=sheets] tr", { hasText: cadre });
  assert.equal(await row.count(), 1, "the cadre's sheet waits for review");
  await shot(page, "attendance");

  // The supervisor opens the sheet: the days with their evidence.
  await Promise.all([page.waitForNavigation(), row.locator("a").first().click()]);
  const sheetUrl = new URL(page.url());
  assert.match(sheetUrl.pathname, /^\/console\/attendance\/[0-9a-f-]{36}$/);
  assert.ok((await page.locator("[data-testid=days] .day.present").count()) > 0, "present days shown");
  // The visit's photo is shown with its day, and the server gives it to this reviewer.
  const thumb = page.locator("[data-testid=days] .photos img").first();
  await thumb.waitFor();
  const src = await thumb.getAttribute("src");
  let photo = await page.request.get(`${base}${src}`);
  for (let i = 0; i < 50 && photo.status() === 202; i++) {
    await new Promise((r) => setTimeout(r, 200));
    photo = await page.request.get(`${base}${src}`);
  }
  assert.equal(photo.status(), 200, "the thumbnail is served");
  assert.equal(photo.headers()["content-type"], "image/jpeg");
  await page.reload();
  assert.match(await page.textContent("[data-testid=review-state]"), /待审核/);
  await shot(page, "sheet");

  // A CSRF-less POST is refused, and so is one with another token; nothing changes.
  const target = `${base}${sheetUrl.pathname}/review`;
  const month = await page.inputValue("[data-testid=decide] input[name=month]");
  let res = await page.request.post(target, { form: { month, action: "approve" } });
  assert.equal(res.status(), 403, "no CSRF token");
  res = await page.request.post(target, { form: { month, action: "approve", csrf: "forged" } });
  assert.equal(res.status(), 403, "a wrong CSRF token");
  const token = await page.inputValue("[data-testid=decide] input[name=csrf]");
  res = await page.request.post(target, {
    form: { month, action: "approve", csrf: token },
    headers: { Origin: "https://evil.example" },
  });
  assert.equal(res.status(), 403, "the right token from another site");
  await page.reload();
  assert.match(await page.textContent("[data-testid=review-state]"), /待审核/, "still unreviewed");

  // The supervisor approves (confirming the dialog): the sheet is locked.
  await Promise.all([page.waitForNavigation(), page.click("[data-testid=approve]")]);
  assert.match(await page.textContent("[data-testid=flash]"), /已审核通过/);
  assert.match(await page.textContent("[data-testid=review-state]"), /已审核/);
  assert.equal(await page.locator("[data-testid=approve]").count(), 0, "an approved sheet offers no decision");
  assert.match(await page.textContent("[data-testid=history]"), /张秀兰/);
  await shot(page, "approved");

  // Every page of the console opens.
  await open(page, "/console/", "dashboard");
  assert.ok((await page.locator("figure.chart svg").count()) >= 2, "charts drawn");
  await open(page, "/console/tasks", "tasks");
  assert.ok((await page.locator("[data-testid=tasks] tbody tr[data-id]").count()) >= 1, "the failing check's task is listed");
  await open(page, "/console/cases", "cases");
  const caseLink = page.locator("[data-testid=cases] tbody a").first();
  await Promise.all([page.waitForNavigation(), caseLink.click()]);
  assert.match(await page.textContent("[data-testid=case-state]"), /已申报/);
  await shot(page, "case");
  await open(page, "/console/reports", "reports");
  assert.ok((await page.locator("[data-testid=reports] tbody tr").count()) >= 1);
  await open(page, "/console/conflicts", "conflicts");
  const conflicts = await page.locator("[data-testid=conflict]").count();
  assert.ok(conflicts >= 1, "the phones' conflicts wait for review");
  await Promise.all([page.waitForNavigation(), page.locator("[data-testid=conflict] [data-testid=keep]").first().click()]);
  assert.match(await page.textContent("[data-testid=flash]"), /已处理/);
  await open(page, "/console/map?village=640104001002", "map");
  assert.ok((await page.locator("[data-testid=map] circle").count()) >= 1, "the month's points drawn");
  assert.ok((await page.locator("[data-testid=map] circle[data-verdict=doubted]").count()) >= 1, "the mocked fix is marked");

  // English, then a tablet.
  await page.goto(`${base}/console/attendance`);
  await Promise.all([page.waitForNavigation(), page.click("text=English")]);
  assert.equal(await page.getAttribute("html", "lang"), "en");
  assert.match(await page.textContent("nav.sections"), /Attendance/);
  await shot(page, "english");
  const tablet = await browser.newContext({ viewport: { width: 820, height: 1180 }, storageState: await context.storageState() });
  const tpage = await tablet.newPage();
  await tpage.goto(`${base}${sheetUrl.pathname}`);
  await shot(tpage, "tablet");
  await tablet.close();

  // Signing out ends the session: the old cookie opens nothing.
  await Promise.all([page.waitForNavigation(), page.click("form.signout button")]);
  assert.match(page.url(), /\/console\/login$/);
  await context.close();

  // A supervisor of another township cannot open the sheet.
  const other = await browser.newContext({ viewport: office });
  const opage = await other.newPage();
  await signIn(opage, process.env.OTHER_SUPERVISOR, "/console/");
  res = await opage.goto(`${base}${sheetUrl.pathname}`);
  assert.equal(res.status(), 404, "another township's cadre does not exist for them");
  assert.equal((await opage.request.get(`${base}${src}`)).status(), 404, "nor do its photos");
  await shot(opage, "other-township");
  const list = await opage.goto(`${base}/console/attendance`);
  assert.equal(list.status(), 200);
  assert.equal(await opage.locator("[data-testid=sheets] tr", { hasText: cadre }).count(), 0);
  await other.close();

  // The 12317 desk: the hotline operator lands on it (and sees nothing else), records a call
  // about 马德福's house found by his ID-card number, and on a follow-up call finds it again.
  const desk = await browser.newContext({ viewport: office, locale: "zh-CN" });
  const hpage = await desk.newPage();
  await signIn(hpage, process.env.HOTLINE, "/console/");
  assert.match(hpage.url(), /\/console\/hotline$/, "an operator lands on the desk");
  assert.equal(await hpage.locator("nav.sections a").count(), 1, "the desk is an operator's only section");
  const call = hpage.locator("[data-testid=call]");
  await call.locator("select[name=village_code]").selectOption("640104001002");
  await call.locator("input[name=id_card]").fill(process.env.HEAD_ID_CARD);
  await call.locator("input[name=reporter_name]").fill("马德福");
  await call.locator("input[name=contact_phone]").fill("13912345678");
  await call.locator("select[name=category]").selectOption("housing");
  await call.locator("textarea[name=description]").fill("下雨后房屋漏雨，北墙开裂");
  await call.locator("input[name=consent]").check();
  await Promise.all([hpage.waitForNavigation(), call.locator("button[type=submit]").click()]);
  assert.match(await hpage.textContent("[data-testid=flash]"), /已登记/);
  assert.match(await hpage.textContent("[data-testid=today]"), /马德福[\s\S]*住房安全[\s\S]*已转到村里/);
  assert.doesNotMatch(await hpage.textContent("[data-testid=today]"), /13912345678/, "the phone is masked");
  await shot(hpage, "hotline");
  const find = hpage.locator("[data-testid=find]");
  await find.locator("input[name=id_card]").fill(process.env.HEAD_ID_CARD);
  await Promise.all([hpage.waitForNavigation(), find.locator("button[type=submit]").click()]);
  assert.ok((await hpage.locator("[data-testid=found] tbody tr", { hasText: "住房安全" }).count()) >= 1, "the follow-up finds the call");
  assert.doesNotMatch(hpage.url(), /\d{17}/, "the number is not in the address");
  await shot(hpage, "hotline-found");
  await desk.close();

  // The county office makes an account for a new team member; its first password, shown
  // once, signs the team member's phone in.
  const countyOffice = await browser.newContext({ viewport: office, locale: "zh-CN" });
  const cpage = await countyOffice.newPage();
  await signIn(cpage, process.env.COUNTY_OFFICER, "/console/accounts");
  const create = cpage.locator("[data-testid=create]");
  await create.locator("input[name=username]").fill("ding.xiaoli");
  await create.locator("input[name=display_name]").fill("丁晓丽");
  await create.locator("select[name=role]").selectOption("team_member");
  await create.locator("select[name=division]").selectOption("640104001002");
  await Promise.all([cpage.waitForNavigation(), create.locator("button[type=submit]").click()]);
  const secret = (await cpage.textContent("[data-testid=password]")).trim();
  assert.match(secret, /^[A-Za-z0-9]{12}$/);
  assert.ok((await cpage.locator("[data-testid=accounts] tr[data-username='ding.xiaoli']").count()) === 1);
  await shot(cpage, "accounts");
  const login = await cpage.request.post(`${base}/v1/auth/login`, {
    data: { username: "ding.xiaoli", password: secret, device_id: "01890a5d-ac96-774b-bcce-b302099a8057" },
  });
  assert.equal(login.status(), 200, "the first password signs a phone in");

  // The rotation: 马建国 hands 崇安社区 over tomorrow to a first secretary made for the
  // neighbouring village.
  await create.locator("input[name=username]").fill("yang.fan");
  await create.locator("input[name=display_name]").fill("杨帆");
  await create.locator("select[name=role]").selectOption("first_secretary");
  await create.locator("select[name=division]").selectOption("640104001003");
  await Promise.all([cpage.waitForNavigation(), create.locator("button[type=submit]").click()]);
  await open(cpage, "/console/accounts?division=640104001", "accounts-township");
  await cpage.click("details.handover summary");
  const hand = cpage.locator("[data-testid=handover]");
  await hand.locator("select[name=village]").selectOption("640104001002");
  const value = (select, text) => hand.locator(`select[name=${select}] option`, { hasText: text }).first().getAttribute("value");
  await hand.locator("select[name=from]").selectOption(await value("from", cadre));
  await hand.locator("select[name=to]").selectOption(await value("to", "杨帆"));
  const first = new Date(`${await hand.locator("input[name=day]").getAttribute("min")}T00:00:00Z`);
  first.setUTCDate(first.getUTCDate() + 1);
  await hand.locator("input[name=day]").fill(first.toISOString().slice(0, 10));
  await Promise.all([cpage.waitForNavigation(), hand.locator("button[type=submit]").click()]);
  assert.match(await cpage.textContent("[data-testid=flash]"), /交接已登记/);
  await shot(cpage, "handover");

  // The township's village teams after the planned handover: every village listed with its
  // class and team (兴庆区 is of class D, so none falls short).
  await open(cpage, "/console/staffing?division=640104001", "staffing");
  assert.ok(Number(await cpage.textContent("[data-testid=villages-count]")) > 0, "the township's villages are counted");
  assert.match(await cpage.textContent("[data-testid=short]"), /没有缺配的村/);

  // The household file: the county officer finds 马德福 by the start of his name, then by his
  // ID-card number (which stays out of the address), and opens his household: its members,
  // the four checks, and the hotline call taken above.
  await open(cpage, "/console/households", "households-search");
  const search = cpage.locator("[data-testid=search]");
  await search.locator("input[name=q]").fill("马德");
  await Promise.all([cpage.waitForNavigation(), search.locator("button[type=submit]").click()]);
  const hit = cpage.locator("[data-testid=households] tbody tr", { hasText: "马德福" });
  assert.ok((await hit.count()) >= 1, "the household is found by the start of the head's name");
  await cpage.locator("[data-testid=search] input[name=q]").fill(process.env.HEAD_ID_CARD);
  await Promise.all([cpage.waitForNavigation(), cpage.locator("[data-testid=search] button[type=submit]").click()]);
  assert.doesNotMatch(cpage.url(), /\d{17}/, "the number is not in the address");
  assert.equal(await cpage.locator("[data-testid=households] tbody tr").count(), 1, "one household has this number");
  await shot(cpage, "households");
  await Promise.all([cpage.waitForNavigation(), cpage.locator("[data-testid=households] tbody tr a").first().click()]);
  assert.match(new URL(cpage.url()).pathname, /^\/console\/households\/[0-9a-f-]{36}$/);
  assert.match(await cpage.textContent("[data-testid=household]"), /马德福/);
  assert.equal(await cpage.locator("[data-testid=check-status] tbody tr").count(), 4, "the four checks");
  assert.match(await cpage.textContent("[data-testid=reports]"), /北墙开裂/, "the hotline call is on the file");
  await shot(cpage, "household");
  await countyOffice.close();
  console.log("console browser test passed");
} finally {
  await browser.close();
}
