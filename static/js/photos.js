// Photos of items and touchpoints: pick from the rear camera or the gallery, shrink on the phone, upload through the
// write seam (autosave.js), then caption or delete. A new photo shows at once from the phone's own copy; the server's
// thumbnail replaces it once the upload is through.
import { newKey, newUuid, send } from "./autosave.js";

const LONG_EDGE = 2048;
const QUALITY = 0.85;
const CAPTION_DELAY_MS = 700;

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

/**
 * Wire every [data-photos] picker under `root`.
 * options: urls {photos, photo(id), thumb(id)}, photos (the audit's saved photo list, kept up to date here),
 * template (<template> holding one empty tile), onChange() after every saved upload or delete, onDirty() whenever
 * something starts or stops waiting to be sent (a photo being shrunk, a caption being typed).
 */
export function setupPhotos(root, { urls, photos, template, onChange, onDirty }) {
  for (const picker of root.querySelectorAll("[data-photos]")) {
    const list = picker.querySelector("[data-photo-list]");
    const where = { touchpoint_key: picker.dataset.touchpoint, item_key: picker.dataset.item || "" };
    for (const input of picker.querySelectorAll("[data-photo-input]")) {
      input.addEventListener("change", () => {
        for (const file of input.files) add(file, list, where);
        input.value = ""; // the same picture may be chosen again
      });
    }
    for (const tile of list.querySelectorAll("[data-photo]")) wire(tile, tile.dataset.photo);
  }

  function add(file, list, where) {
    const id = newUuid(); // made once: a retried upload carries the same id and is stored once
    const tile = template.content.firstElementChild.cloneNode(true);
    const img = tile.querySelector("img");
    const preview = URL.createObjectURL(file);
    img.src = preview;
    img.alt = "New photo";
    tile.dataset.photo = id;
    tile.dataset.upload = "preparing";
    setState(tile, "Getting it ready…");
    list.append(tile);
    wire(tile, id);
    onDirty();
    upload(file, tile, id, where, preview);
  }

  async function upload(file, tile, id, where, preview) {
    const blob = await downscale(file);
    const caption = tile.querySelector("[data-field=caption]");
    const form = new FormData();
    form.append("id", id);
    form.append("touchpoint_key", where.touchpoint_key);
    if (where.item_key) form.append("item_key", where.item_key);
    form.append("caption", caption.value.trim());
    form.append("file", blob, fileName(blob, file));
    tile.dataset.upload = "sending";
    setState(tile, "Uploading…");
    const headers = { "Idempotency-Key": newKey() }; // made once: a retry sends the very same request
    const result = await send({ method: "POST", url: urls.photos, headers, body: form });
    if (!result.ok) {
      tile.dataset.upload = "refused";
      setState(tile, "Not uploaded");
      showError(tile, problem(result));
      onDirty();
      return;
    }
    const photo = result.data.photo;
    if (!photos.some((p) => p.id === photo.id)) photos.push(photo);
    delete tile.dataset.upload;
    setState(tile, "");
    const img = tile.querySelector("img");
    const thumb = new Image();
    thumb.onload = () => {
      img.src = thumb.src;
      URL.revokeObjectURL(preview);
    };
    thumb.src = urls.thumb(photo.id);
    img.alt = photo.caption || "Photo";
    onChange();
  }

  function wire(tile, id) {
    const caption = tile.querySelector("[data-field=caption]");
    const label = tile.querySelector("label");
    caption.id = `caption-${id}`;
    label.htmlFor = caption.id;
    let timer = null;
    const saveCaption = async () => {
      clearTimeout(timer);
      timer = null;
      tile.removeAttribute("data-caption-dirty");
      onDirty();
      if (tile.dataset.upload === "preparing") return; // the upload, not yet sent, takes the caption along
      if (tile.dataset.upload === "refused") return;
      const text = caption.value.trim();
      const result = await send({
        method: "PATCH",
        url: urls.photo(id),
        headers: { "Idempotency-Key": newKey(), "Content-Type": "application/json" },
        body: JSON.stringify({ caption: text }),
      });
      if (!result.ok) {
        showError(tile, problem(result));
        return;
      }
      showError(tile, "");
      const saved = photos.find((p) => p.id === id);
      if (saved) saved.caption = result.data.photo.caption;
      tile.querySelector("img").alt = result.data.photo.caption || "Photo";
    };
    caption.addEventListener("input", () => {
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
      if (tile.dataset.upload === "refused") {
        tile.remove(); // it never reached the server
        onDirty();
        return;
      }
      tile.hidden = true;
      const result = await send({ method: "DELETE", url: urls.photo(id), headers: { "Idempotency-Key": newKey() } });
      if (!result.ok) {
        tile.hidden = false;
        showError(tile, problem(result));
        return;
      }
      const index = photos.findIndex((p) => p.id === id);
      if (index >= 0) photos.splice(index, 1);
      const list = tile.parentElement;
      tile.remove();
      list?.closest("[data-photos]")?.querySelector("[data-photo-input]")?.focus();
      onChange();
    });
  }
}

/** Send every caption still being typed at once (before leaving the page). */
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
