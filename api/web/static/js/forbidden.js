// The "access refused" page: the top bar and the message in the chosen UI language.

import { startPage } from "./shell.js";

startPage({ page: "" });
