// Reads feed documents with npm's feedsmith, as a JavaScript reader would,
// and prints what it found as JSON, for tests/test_jsonfeed.py:
//
//   node read-feeds.mjs FILE...
//   → {"FILE": {"format": "json", "title": "…",
//               "items": [{"id": "…", "title": "…", "published": "…", "modified": "…"}]}}
//
// JSON Feed items give date_published/date_modified, Atom entries
// published/updated; dates are printed as the document writes them.
// A document feedsmith cannot parse makes the script exit with status 1.

import { readFileSync } from "node:fs";
import { parseFeed } from "feedsmith";

// feedsmith gives Atom text constructs as {value, type}.
const text = (value) => (value !== null && typeof value === "object" ? value.value : value);

function items(format, feed) {
  if (format === "json") {
    return (feed.items ?? []).map((item) => ({
      id: item.id,
      title: item.title,
      published: item.date_published,
      modified: item.date_modified,
    }));
  }
  if (format === "atom") {
    return (feed.entries ?? []).map((entry) => ({
      id: entry.id,
      title: text(entry.title),
      published: entry.published,
      modified: entry.updated,
    }));
  }
  throw new Error(`unexpected format ${format}`);
}

const found = {};
for (const path of process.argv.slice(2)) {
  const { format, feed } = parseFeed(readFileSync(path, "utf8"));
  found[path] = { format, title: text(feed.title), items: items(format, feed) };
}
process.stdout.write(JSON.stringify(found));
