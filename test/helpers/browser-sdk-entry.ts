/** What test/sdk/envelope-v2-browser.test.ts loads into Chromium: the SDK's core entry, bundled by Vite. */
import * as sdk from "../../sdk/index";

(globalThis as unknown as { sdk: typeof sdk }).sdk = sdk;
