// The browser is the system's Chromium (Debian package `chromium`); never download one.
/** @type {import('puppeteer').Configuration} */
module.exports = { skipDownload: true };
