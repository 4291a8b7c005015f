// Photos of items and touchpoints: pick from the rear camera or the gallery, shrink on the phone, keep and upload
// through the write seam (autosave.js), then caption or delete. A new photo shows at once from the phone's own copy,
// and still does after a reload while it waits to upload (from the bytes kept in the outbox); the server's thumbnail
// replaces it once the upload is through.
import { dismiss, keptPhoto, newKey, newUuid, send } from "./autosave.js";

const LONG_EDGE = 2048;
const QUALITY = 0.85;
const CAPTION_DELAY_MS = 700;
const WAITING = "Kept on this phone, waiting to upload";

/**
 * The photo as a JPEG of at most 2048 px on its long edge, upright, without its EXIF block. When the phone cannot
 * decode it (HEIC on Chrome, for one) the original file goes up as it is: the server reads HEIC and shrinks it.
 */
export async function downscale(file) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch {
    return file;
  }
  try {
    const scale = Math.min(1, LONG_EDGE / Math.max(bitmap.width, bitmap.height));
    const width = Math.max(1, Math.round(bitmap.width * scale));
    const height = Math.max(1, Math.round(bitmap.height * scale));
    let blob;
    if (typeof OffscreenCanvas === "function") {
      const canvas = new OffscreenCanvas(width, height);
      draw(canvas.getContext("2d"), bitmap, width, height);
      blob = await canvas.convertToBlob({ type: "image/jpeg", quality: QUALITY });
    } else {
      const canvas = document.createElement("canvas");
      canvas.width = width;
      canvas.height = height;
      draw(canvas.getContext("2d"), bitmap, width, height);
      blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", QUALITY));
    }
    if (!blob || !blob.size) return file;
    const alreadySmall = scale === 1 && /^image\/(jpeg|png|webp)$/.test(file.type) && file.size <= blob.size;
    return alreadySmall ? file : blob;
  } catch {
    return file;
  } finally {
    bitmap.close();
  }
}

function draw(context, bitmap, width, height) {
  context.fillStyle = "#fff"; // transparent PNGs get a white, not a black, background
  context.fillRect(0, 0, width, height);
  context.drawImage(bitmap, 0, 0, width, height);
}

function fileName(blob, original) {
  if (blob === original && original.name) return original.name;
  return "photo.jpg";
}

function problem(result) {
  return (result.data && result.data.error) || `The server refused this (${result.status}).`;
}

function place(photo) {
  return `${photo.touchpoint_key}|${photo.item_key || ""}`;
}

/**
 * Wire every [data-photos] picker under `root`.
 * options: urls {photos, photo(id), thumb(id)}, template (<template> holding one empty tile), onChange() after a
 * photo is added, uploaded or deleted, onDirty() whenever something starts or stops waiting to be handed to the
 * outbox (a photo being shrunk, a caption being typed).
 * Returns {show(view)}: make the tiles match a local view of the audit (autosave.js localView()).
 */
export function setupPhotos(root, { urls, template, onChange, onDirty }) {
  const lists = new Map(); // "touchpoint|item" -> the picker's list
  const tiles = new Map(); // photo id -> tile
  const deleting = new Set(); // photos whose delete is not yet kept in the outbox

  for (const picker of root.querySelectorAll("[data-photos]")) {
    const list = picker.querySelector("[data-photo-list]");
    const where = { touchpoint_key: picker.dataset.touchpoint, item_key: picker.dataset.item || "" };
    lists.set(place(where), list);
    for (const input of picker.querySelectorAll("[data-photo-input]")) {
      input.addEventListener("change", () => {
        for (const file of input.files) add(file, list, where);
        input.value = ""; // the same picture may be chosen again
      });
    }
    for (const tile of list.querySelectorAll("[data-photo]")) {
      tiles.set(tile.dataset.photo, tile);
      wire(tile, tile.dataset.photo);
    }
  }

  function newTile(id, list, caption) {
    const tile = template.content.firstElementChild.cloneNode(true);
    tile.dataset.photo = id;
    tile.querySelector("[data-field=caption]").value = caption || "";
    list.append(tile);
    tiles.set(id, tile);
    wire(tile, id);
    return tile;
  }

  function add(file, list, where) {
    const id = newUuid(); // made once: every replay of the upload carries the same id and is stored once
    const tile = newTile(id, list, "");
    const preview = URL.createObjectURL(file);
    tile.querySelector("img").src = preview;
    tile.querySelector("img").alt = "New photo";
    tile.dataset.upload = "preparing";
    setState(tile, "Getting it ready…");
    onDirty();
    upload(file, tile, id, where);
  }

  async function upload(file, tile, id, where) {
    const blob = await downscale(file);
    const caption = tile.querySelector("[data-field=caption]");
    const form = new FormData();
    form.append("id", id);
    form.append("touchpoint_key", where.touchpoint_key);
    if (where.item_key) form.append("item_key", where.item_key);
    form.append("caption", caption.value.trim());
    form.append("file", blob, fileName(blob, file));
    const headers = { "Idempotency-Key": newKey() };
    const sending = send({ method: "POST", url: urls.photos, headers, body: form, label: "A photo" });
    tile.removeAttribute("data-caption-dirty"); // the caption typed so far goes with the upload
    const entry = await sending.stored;
    if (entry) {
      tile.dataset.entry = entry;
      tile.dataset.upload = "waiting";
      setState(tile, WAITING);
    }
    onDirty();
    onChange();
    const result = await sending;
    if (!result.ok) {
      refuse(tile, problem(result));
      return;
    }
    uploaded(tile, result.data.photo);
    onChange();
  }

  /* The server has the photo: its thumbnail replaces the phone's copy once loaded. */
  function uploaded(tile, photo) {
    if (tile.dataset.upload !== "waiting" && tile.dataset.upload !== "preparing") return;
    delete tile.dataset.upload;
    setState(tile, "");
    const img = tile.querySelector("img");
    const thumb = new Image();
    thumb.onload = () => {
      const previous = img.src;
      img.src = thumb.src;
      if (previous.startsWith("blob:")) URL.revokeObjectURL(previous);
    };
    thumb.src = urls.thumb(photo.id);
    img.alt = photo.caption || "Photo";
  }

  function refuse(tile, message) {
    tile.dataset.upload = "refused";
    setState(tile, "Not uploaded");
    showError(tile, message);
    onDirty();
  }

  async function preview(tile, entryId) {
    const blob = await keptPhoto(entryId);
    if (blob) tile.querySelector("img").src = URL.createObjectURL(blob);
  }

  function show(view) {
    const wanted = new Set(view.photos.map((photo) => photo.id));
    const aside = new Set(view.refused.map((entry) => entry.target));
    for (const [id, tile] of tiles) {
      if (wanted.has(id) || tile.dataset.upload === "preparing") continue;
      if (tile.dataset.upload === "refused" && (!tile.dataset.entry || aside.has(id))) continue; // never kept, or aside
      tile.remove(); // deleted, here or on another device, or a refused upload dismissed
      tiles.delete(id);
    }
    for (const photo of view.photos) {
      const list = lists.get(place(photo));
      if (!list || deleting.has(photo.id)) continue; // a photo of another touchpoint, or one being deleted
      let tile = tiles.get(photo.id);
      if (!tile) {
        tile = newTile(photo.id, list, photo.caption);
        if (photo.waiting) {
          tile.dataset.upload = "waiting";
          setState(tile, WAITING);
          preview(tile, photo.waiting);
        } else {
          tile.querySelector("img").src = urls.thumb(photo.id);
        }
        tile.querySelector("img").alt = photo.caption || "Photo";
      } else if (tile.dataset.upload === "refused") { // sent again ("Try again"): waiting, or through
        showError(tile, "");
        tile.dataset.upload = "waiting";
        setState(tile, WAITING);
        if (!photo.waiting) uploaded(tile, photo);
      } else if (!photo.waiting) {
        uploaded(tile, photo);
      }
      const caption = tile.querySelector("[data-field=caption]");
      if (!tile.dataset.captionDirty && document.activeElement !== caption) caption.value = photo.caption || "";
    }
    for (const entry of view.refused) {
      if (entry.kind === "photo" && entry.fields && !tiles.has(entry.target)) {
        const list = lists.get(place({ touchpoint_key: entry.fields.touchpoint_key, item_key: entry.fields.item_key }));
        if (!list) continue;
        const tile = newTile(entry.target, list, entry.fields.caption);
        tile.dataset.entry = entry.id;
        preview(tile, entry.id);
        refuse(tile, entry.reason);
      } else if (["caption", "delete-photo"].includes(entry.kind) && tiles.has(entry.target)) {
        showError(tiles.get(entry.target), entry.reason);
      }
    }
  }

  function wire(tile, id) {
    const caption = tile.querySelector("[data-field=caption]");
    const label = tile.querySelector("label");
    caption.id = `caption-${id}`;
    label.htmlFor = caption.id;
    let timer = null;
    let typedAt = 0; // when the caption was last changed: the latest edit wins on the server, whatever arrives first
    const saveCaption = async () => {
      clearTimeout(timer);
      timer = null;
      if (tile.dataset.upload === "preparing") return; // the upload, not yet kept, takes the caption along
      if (tile.dataset.upload === "refused") {
        tile.removeAttribute("data-caption-dirty");
        onDirty();
        return;
      }
      const text = caption.value.trim();
      const sending = send({
        method: "PATCH",
        url: urls.photo(id),
        headers: { "Idempotency-Key": newKey(), "Content-Type": "application/json" },
        body: JSON.stringify({ caption: text, client_ts: typedAt }),
        label: "A photo's caption",
      });
      await sending.stored; // until then the tile keeps what is typed, whatever the page redraws
      tile.removeAttribute("data-caption-dirty");
      onDirty();
      const result = await sending;
      if (!result.ok) {
        showError(tile, problem(result));
        return;
      }
      showError(tile, "");
      tile.querySelector("img").alt = result.data.photo.caption || "Photo";
    };
    caption.addEventListener("input", () => {
      typedAt = Date.now();
      clearTimeout(timer);
      tile.dataset.captionDirty = "1";
      timer = setTimeout(saveCaption, CAPTION_DELAY_MS);
      onDirty();
    });
    caption.addEventListener("change", () => {
      if (timer) saveCaption();
    });
    tile.flushCaption = () => {
      if (timer) saveCaption();
    };

    const remove = tile.querySelector("[data-action=delete-photo]");
    let armed = null;
    remove.addEventListener("click", async () => {
      if (!armed) {
        remove.textContent = "Tap again to delete";
        armed = setTimeout(() => {
          armed = null;
          remove.textContent = "Delete";
        }, 4000);
        return;
      }
      clearTimeout(armed);
      armed = null;
      remove.textContent = "Delete";
      const list = tile.parentElement;
      if (tile.dataset.upload === "refused") {
        if (tile.dataset.entry) dismiss(Number(tile.dataset.entry)); // it never reached the server
        forget(tile, id, list);
        onChange();
        return;
      }
      deleting.add(id);
      forget(tile, id, list);
      const sending = send({
        method: "DELETE",
        url: urls.photo(id),
        headers: { "Idempotency-Key": newKey() },
        label: "Deleting a photo",
      });
      await sending.stored;
      deleting.delete(id);
      onChange();
      const result = await sending;
      if (!result.ok) onChange(); // refused: the photo is still there, and shows again
    });
  }

  function forget(tile, id, list) {
    tile.remove();
    tiles.delete(id);
    list?.closest("[data-photos]")?.querySelector("[data-photo-input]")?.focus();
    onDirty();
  }

  return { show };
}

/** Hand every caption still being typed to the outbox at once (before leaving the page). */
export function flushCaptions(root) {
  for (const tile of root.querySelectorAll("[data-caption-dirty]")) tile.flushCaption?.();
}

function setState(tile, text) {
  const state = tile.querySelector("[data-photo-state]");
  state.textContent = text;
  state.hidden = !text;
}

function showError(tile, message) {
  const error = tile.querySelector(":scope > [data-error]");
  error.textContent = message;
  error.hidden = !message;
}
