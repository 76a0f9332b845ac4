// Blob, File, FormData: https://w3c.github.io/FileAPI/ and
// https://xhr.spec.whatwg.org/#interface-formdata
import { suite, threw, error, bytes, collect, pairs } from "../harness.js";

export default suite("blob", [
  ["size_and_type", async () => { const b = new Blob(["ab", new Uint8Array([99]), new Blob(["d"])], { type: "text/plain" });
    return [b.size, b.type, await b.text()]; }, [4, "text/plain", "abcd"]],
  ["type_lowercased_or_dropped", () => [new Blob([], { type: "TEXT/Plain" }).type, new Blob([], { type: "a\u00e9" }).type, new Blob().type],
    ["text/plain", "", ""]],
  ["slice", async () => { const b = new Blob(["hello"]); return [await b.slice(1, 3).text(), await b.slice(-3).text(), await b.slice(2, 1).text(),
    b.slice(0, 1, "x/y").type]; }, ["el", "llo", "", "x/y"]],
  ["array_buffer_and_bytes", async () => { const b = new Blob(["é"]); return [bytes(await b.arrayBuffer()), bytes(await b.bytes())]; },
    [[195, 169], [195, 169]]],
  ["stream", async () => { const chunks = await collect(new Blob(["xyz"]).stream()); return chunks.flatMap((c) => bytes(c)); }, [120, 121, 122]],
  ["string_parts_are_utf8", async () => new Blob(["\uD800"]).size, 3],
  ["file", () => { const f = new File(["x"], "a.txt", { type: "text/plain", lastModified: 42 });
    return [f.name, f.type, f.size, f.lastModified, f instanceof Blob, Object.prototype.toString.call(f)]; },
    ["a.txt", "text/plain", 1, 42, true, "[object File]"]],
  ["file_requires_name", async () => threw(() => new File(["x"])), error("TypeError")],
  ["file_default_last_modified", () => { const t = Date.now(); const f = new File([], "n"); return Math.abs(f.lastModified - t) < 5000; }, true],
  ["form_data_basics", () => { const fd = new FormData(); fd.append("a", "1"); fd.append("a", "2"); fd.set("b", "3");
    const r = [fd.get("a"), fd.getAll("a"), fd.has("b"), fd.get("z")]; fd.delete("a"); r.push(pairs(fd)); return r; },
    ["1", ["1", "2"], true, null, [["b", "3"]]]],
  ["form_data_blob_becomes_file", () => { const fd = new FormData(); fd.append("f", new Blob(["x"])); fd.append("g", new Blob(["y"]), "g.bin");
    const f = fd.get("f"); const g = fd.get("g"); return [f instanceof File, f.name, g.name]; }, [true, "blob", "g.bin"]],
  ["form_data_set_replaces_first", () => { const fd = new FormData(); fd.append("a", "1"); fd.append("b", "x"); fd.append("a", "2"); fd.set("a", "3");
    return pairs(fd); }, [["a", "3"], ["b", "x"]]],
  ["form_data_values_are_strings", () => { const fd = new FormData(); fd.append("n", 5); fd.append("o", { toString: () => "s" }); return [fd.get("n"), fd.get("o")]; },
    ["5", "s"]],
  ["form_data_request_round_trip", async () => { const fd = new FormData(); fd.append("k", "v"); fd.append("file", new File(["data"], "d.txt", { type: "text/plain" }));
    const req = new Request("http://a/", { method: "POST", body: fd }); const back = await req.formData(); const f = back.get("file");
    return [back.get("k"), f.name, f.type, await f.text()]; }, ["v", "d.txt", "text/plain", "data"]],
  ["form_data_blob_without_filename", async () => threw(() => new FormData().append("a", "b", "c")), error("TypeError")],
  ["to_string_tags", () => [new Blob(), new FormData()].map((o) => Object.prototype.toString.call(o)), ["[object Blob]", "[object FormData]"]],
]);
