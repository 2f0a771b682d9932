import type { InstanceInfo } from "../src/app.ts";
import { page } from "./layout.tsx";

export function homePage(instance: InstanceInfo): string {
  return page(
    "flue",
    <main>
      <h1>flue</h1>
      <p>
        flue {instance.version} is running on <code>{instance.host}</code>.
      </p>
      <p>
        The API is at <a href="/api/">/api/</a>: process definitions at <code>/api/process_definition/</code>, jobs at{" "}
        <code>/api/job/</code>, live events at <code>/api/events</code>. Sign in with the admin credentials printed when
        flue first started.
      </p>
    </main>,
  );
}
