// The root page: send a signed-in person to their role's start page, anyone else to the login.

import { currentUser, homeFor, token } from "./api.js";

async function main() {
  if (!token()) {
    location.replace("/login");
    return;
  }
  const user = await currentUser();
  location.replace(homeFor(user));
}

main().catch(() => location.replace("/login"));
