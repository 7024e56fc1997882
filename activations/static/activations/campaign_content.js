"use strict";
// The campaign page shows the message fields of the chosen channel only, for the campaign and for
// each A/B variant (a variant without a channel of its own uses the campaign's), and the extra
// data of a webhook with a webhook destination only. Without this
// script every field shows and the server ignores those of the other channels.
{
  const CHANNELS = ["email", "sms"];
  // The GSM 03.38 alphabet of a plain SMS, and its extension (each of those counts twice).
  const GSM =
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡" +
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  const GSM_EXTENSION = "^{}\\[~]|€\f";

  // The variant's own choice, else the campaign's.
  function chosen(fieldset, field) {
    const campaign = document.getElementById("id_" + field);
    const variant = fieldset.closest(".inline-related");
    const own = variant ? variant.querySelector(`select[name$='-${field}']`) : null;
    return (own && own.value) || (campaign ? campaign.value : "");
  }

  function smsCount(text) {
    let units = 0;
    for (const character of text) {
      if (GSM.includes(character)) {
        units += 1;
      } else if (GSM_EXTENSION.includes(character)) {
        units += 2;
      } else {
        // Unicode SMS: 70 UTF-16 units in one message, 67 per part of a longer one.
        return { characters: text.length, messages: text.length <= 70 ? 1 : Math.ceil(text.length / 67) };
      }
    }
    return { characters: units, messages: units <= 160 ? 1 : Math.ceil(units / 153) };
  }

  function showCount(textarea) {
    const row = textarea.closest(".form-row") || textarea.parentElement;
    let line = row.querySelector(".cdp-sms-count");
    if (!line) {
      line = document.createElement("div");
      line.className = "help cdp-sms-count";
      line.setAttribute("aria-live", "polite");
      (textarea.closest(".flex-container") || textarea).insertAdjacentElement("afterend", line);
    }
    const count = smsCount(textarea.value);
    line.textContent = textarea.dataset.smsCounter
      .replace("%(characters)s", count.characters)
      .replace("%(messages)s", textarea.value ? count.messages : 0);
  }

  function update() {
    document.querySelectorAll("fieldset.cdp-content").forEach((fieldset) => {
      const channel = chosen(fieldset, "channel");
      const wanted = "cdp-content-" + (CHANNELS.includes(channel) ? channel : "none");
      fieldset.style.display = fieldset.classList.contains(wanted) ? "" : "none";
    });
    // The extra data only matters to a webhook: shown for one, or when it already holds something.
    document.querySelectorAll("fieldset.cdp-content-extra").forEach((fieldset) => {
      const extra = fieldset.querySelector("textarea[data-webhook-destinations]");
      if (!extra) {
        return;
      }
      const webhooks = JSON.parse(extra.dataset.webhookDestinations);
      const destination = Number(chosen(fieldset, "destination"));
      const shown = webhooks.includes(destination) || extra.value.trim() !== "";
      fieldset.style.display = shown ? "" : "none";
    });
    document.querySelectorAll("textarea[data-sms-counter]").forEach(showCount);
  }

  document.addEventListener("change", (event) => {
    if (event.target.matches("select[name$='channel'], select[name$='destination']")) {
      update();
    }
  });
  document.addEventListener("input", (event) => {
    if (event.target.matches("textarea[data-sms-counter]")) {
      showCount(event.target);
    }
  });
  document.addEventListener("formset:added", update);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", update);
  } else {
    update();
  }
}
