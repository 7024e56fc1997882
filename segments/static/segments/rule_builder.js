/*
 * The segment rule builder: edits the conditions' JSON kept in the form's textarea.
 *
 * No build step and no dependency. Every word shown comes from the catalogue the
 * server renders next to the textarea (segments.selectors.segment_rule_catalogue
 * and segments.forms.rule_builder_texts), already translated. Without this
 * script the textarea stays visible and the JSON can be edited by hand.
 *
 * The tree is the one segments.rules describes: a group is
 * {match: "all" | "any" | "none", conditions: [...]}, a condition names a field,
 * an operator and, for most operators, a value.
 */
(function () {
  "use strict";

  var MAX_DEPTH = 4;
  var PREVIEW_DELAY = 400;
  var OTHER = "__other__";
  var VALUE_FIELDS = { text: true, number: true, date: true, datetime: true, boolean: true };

  function el(tag, attributes, children) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (key) {
      var value = attributes[key];
      if (value === null || value === undefined || value === false) return;
      if (key === "className") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.indexOf("on") === 0) node.addEventListener(key.slice(2), value);
      else if (key === "value") node.value = value;
      else if (key === "checked" || key === "selected") node[key] = Boolean(value);
      else node.setAttribute(key, value === true ? "" : value);
    });
    [].concat(children || []).forEach(function (child) {
      if (child === null || child === undefined || child === false) return;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    });
    return node;
  }

  function format(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (match, name) {
      return values[name] === undefined ? match : values[name];
    });
  }

  function isGroup(node) {
    return Boolean(node) && typeof node === "object" && !Array.isArray(node) && Array.isArray(node.conditions);
  }

  function depthOf(path) {
    return path ? path.split(".").length : 0;
  }

  function RuleBuilder(root) {
    this.root = root;
    this.source = document.getElementById(root.dataset.source);
    this.catalogue = JSON.parse(document.getElementById(root.dataset.catalogue).textContent);
    this.texts = this.catalogue.texts;
    this.previewUrl = root.dataset.previewUrl;
    this.segmentId = root.dataset.segmentId || null;
    this.form = this.source.form;
    this.customEventTypes = new WeakSet();
    this.timer = null;
    this.request = null;
    this.fieldset = root.closest("fieldset");

    var rules;
    try {
      rules = this.source.value.trim() ? JSON.parse(this.source.value) : { match: "all", conditions: [] };
    } catch (error) {
      rules = undefined;
    }
    if (!isGroup(rules)) {
      root.append(el("p", { className: "errornote", text: this.texts.json_invalid }));
      return;
    }
    this.rules = rules;
    this.source.hidden = true;
    this.tree = el("div", { className: "rb-tree" });
    this.preview = el("div", { className: "rb-preview", "aria-live": "polite" });
    root.append(this.tree, this.preview);
    // Enter in a field of the builder adds a list value or does nothing: it must not save the whole form.
    root.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && event.target.tagName === "INPUT") event.preventDefault();
    });
    this.watchKind();
    this.render();
    this.schedulePreview(0);
  }

  RuleBuilder.prototype.watchKind = function () {
    var builder = this;
    if (!this.form) return;
    this.form.querySelectorAll('input[name="kind"]').forEach(function (input) {
      input.addEventListener("change", function () {
        if (!builder.isStatic()) builder.schedulePreview(0);
      });
    });
  };

  RuleBuilder.prototype.isStatic = function () {
    if (!this.form) return false;
    var checked = this.form.querySelector('input[name="kind"]:checked');
    return Boolean(checked) && checked.value === "static";
  };

  // -- Changes -------------------------------------------------------------------------------

  RuleBuilder.prototype.changed = function (structural) {
    this.source.value = JSON.stringify(this.rules);
    if (structural) this.render();
    this.schedulePreview(PREVIEW_DELAY);
  };

  RuleBuilder.prototype.render = function () {
    var focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.focus : null;
    this.tree.replaceChildren(this.renderGroup(this.rules, "", null, 0));
    if (focused) {
      var again = this.tree.querySelector('[data-focus="' + focused + '"]');
      if (again) again.focus();
    }
  };

  // -- Groups --------------------------------------------------------------------------------

  RuleBuilder.prototype.renderGroup = function (group, path, parent, index) {
    var builder = this;
    var texts = this.texts;
    var isRoot = parent === null;
    var box = el("div", { className: "rb-group" + (isRoot ? " rb-root" : ""), dataset: { path: path || "root" } });
    var match = this.select(this.catalogue.matches, group.match || "all", {
      focus: (path || "root") + ":match",
      label: isRoot ? texts.intro : format(texts.group, { path: path }),
      onchange: function (event) {
        group.match = event.target.value;
        builder.changed(true);
      },
    });
    var header = el("div", { className: "rb-group-header" }, [
      el("span", { text: isRoot ? texts.intro : format(texts.group, { path: path }) }),
      match,
    ]);
    if (!isRoot) {
      header.append(
        this.removeButton(texts.remove_group, path + ":remove", function () {
          parent.splice(index, 1);
          builder.changed(true);
        })
      );
    }
    box.append(header);

    var list = el("div", { className: "rb-children" });
    if (!group.conditions.length) {
      list.append(el("p", { className: "rb-empty help", text: isRoot ? texts.empty_root : texts.empty_group }));
    }
    var joiner = texts["joiner_" + (group.match || "all")] || texts.joiner_all;
    group.conditions.forEach(function (child, position) {
      var childPath = path ? path + "." + (position + 1) : String(position + 1);
      var item = el("div", { className: "rb-item" }, [
        el("span", { className: "rb-joiner", text: position ? joiner : "", "aria-hidden": "true" }),
        isGroup(child)
          ? builder.renderGroup(child, childPath, group.conditions, position)
          : builder.renderCondition(child, childPath, group.conditions, position),
      ]);
      list.append(item);
    });
    box.append(list);

    var actions = el("div", { className: "rb-actions" }, [
      el("button", {
        type: "button",
        className: "button rb-add-condition",
        text: texts.add_condition,
        dataset: { focus: (path || "root") + ":add" },
        onclick: function () {
          group.conditions.push({ field: "" });
          builder.changed(true);
          var added = builder.tree.querySelector('[data-path="' + (path ? path + "." : "") + group.conditions.length + '"] select');
          if (added) added.focus();
        },
      }),
    ]);
    if (depthOf(path) < MAX_DEPTH) {
      actions.append(
        el("button", {
          type: "button",
          className: "button rb-add-group",
          text: texts.add_group,
          dataset: { focus: (path || "root") + ":add-group" },
          onclick: function () {
            group.conditions.push({ match: "any", conditions: [{ field: "" }] });
            builder.changed(true);
          },
        })
      );
    }
    box.append(actions);
    return box;
  };

  // -- Conditions ----------------------------------------------------------------------------

  RuleBuilder.prototype.renderCondition = function (node, path, parent, index) {
    var builder = this;
    if (!node || typeof node !== "object") {
      node = { field: "" };
      parent[index] = node;
    }
    var controls = el("div", { className: "rb-controls" }, [this.fieldSelect(node, path)]);
    var spec = this.catalogue.fields[node.field];
    if (spec) {
      var render = VALUE_FIELDS[spec.type] ? "valueControls" : "controls_" + node.field;
      if (this[render]) this[render](node, path, controls, spec);
    }
    return el("div", { className: "rb-condition", dataset: { path: path } }, [
      el("span", { className: "rb-number", text: path }),
      controls,
      this.removeButton(this.texts.remove_condition, path + ":remove", function () {
        parent.splice(index, 1);
        builder.changed(true);
      }),
    ]);
  };

  RuleBuilder.prototype.fieldSelect = function (node, path) {
    var builder = this;
    var fields = this.catalogue.fields;
    var select = el("select", {
      className: "rb-field",
      "aria-label": this.texts.choose_field,
      dataset: { focus: path + ":field" },
      onchange: function (event) {
        var field = event.target.value;
        Object.keys(node).forEach(function (key) {
          delete node[key];
        });
        Object.assign(node, builder.defaults(field));
        builder.changed(true);
      },
    });
    select.append(el("option", { value: "", text: this.texts.choose_field }));
    this.catalogue.field_groups.forEach(function (group) {
      var optgroup = el("optgroup", { label: group[0] });
      group[1].forEach(function (name) {
        if (fields[name]) optgroup.append(el("option", { value: name, text: fields[name].label }));
      });
      select.append(optgroup);
    });
    select.value = fields[node.field] ? node.field : "";
    return select;
  };

  RuleBuilder.prototype.defaults = function (field) {
    var spec = this.catalogue.fields[field];
    if (!spec) return { field: "" };
    if (VALUE_FIELDS[spec.type]) return { field: field, operator: spec.operators[0], value: "" };
    switch (field) {
      case "trait":
        return { field: field, key: "", value_type: "text", operator: "equals", value: "" };
      case "identifier":
        return { field: field, operator: "has", value: this.catalogue.identifier_kinds[0][0] };
      case "identity":
        return { field: field, operator: "identified" };
      case "consent":
        return { field: field, operator: "granted", value: this.catalogue.channels[0][0] };
      case "event":
        return { field: field, event_type: "", operator: "did", window: "ever" };
      case "revenue":
        return { field: field, aggregate: "sum", operator: "gte", value: "", event_type: "purchase", window: "ever" };
      case "last_event":
        return { field: field, event_type: "", operator: "newer_than", value: 30 };
      case "rfm":
        return {
          field: field,
          operator: "in",
          dimension: this.catalogue.rfm_dimensions[0][0],
          value: [5],
          days: this.catalogue.rfm_default_days,
          event_type: "purchase",
        };
      case "segment":
        return { field: field, operator: "in_segment", value: "" };
      case "score":
        return { field: field, score: "", operator: "score_top_percent", value: 10 };
      default:
        return { field: field, operator: spec.operators[0] };
    }
  };

  // -- Building blocks ----------------------------------------------------------------------

  RuleBuilder.prototype.select = function (choices, current, options) {
    var select = el("select", {
      "aria-label": options.label || null,
      className: options.className || null,
      dataset: { focus: options.focus },
      onchange: options.onchange,
    });
    if (options.placeholder) select.append(el("option", { value: "", text: options.placeholder }));
    choices.forEach(function (choice) {
      select.append(el("option", { value: String(choice[0]), text: choice[1] }));
    });
    var known = choices.some(function (choice) {
      return String(choice[0]) === String(current);
    });
    select.value = known ? String(current) : options.placeholder ? "" : String(choices.length ? choices[0][0] : "");
    return select;
  };

  RuleBuilder.prototype.removeButton = function (label, focus, onclick) {
    return el("button", {
      type: "button",
      className: "rb-remove",
      title: label,
      "aria-label": label,
      dataset: { focus: focus },
      onclick: onclick,
      text: "×",
    });
  };

  RuleBuilder.prototype.input = function (owner, key, type, options) {
    var builder = this;
    options = options || {};
    var attributes = {
      type: type === "number" ? "number" : type === "date" || type === "datetime" ? "date" : "text",
      className: "rb-input rb-input-" + (type || "text") + (options.className ? " " + options.className : ""),
      value: owner[key] === undefined || owner[key] === null ? "" : String(owner[key]),
      placeholder: options.placeholder || (type === "date" || type === "datetime" ? null : this.texts.value),
      "aria-label": options.label || options.placeholder || this.texts.value,
      dataset: { focus: options.focus },
      list: options.list || null,
      min: options.min === undefined ? null : String(options.min),
      step: type === "number" ? options.step || "any" : null,
      oninput: function (event) {
        owner[key] = event.target.value;
        builder.changed(false);
      },
    };
    if (options.onchange) attributes.onchange = options.onchange;
    return el("input", attributes);
  };

  RuleBuilder.prototype.operatorSelect = function (node, path, operators, onShapeChange) {
    var builder = this;
    var labels = this.catalogue.operators;
    return this.select(
      operators.map(function (name) {
        return [name, labels[name] ? labels[name].label : name];
      }),
      node.operator,
      {
        className: "rb-operator",
        focus: path + ":operator",
        placeholder: operators.indexOf(node.operator) < 0 ? this.texts.choose : null,
        label: this.texts.choose,
        onchange: function (event) {
          node.operator = event.target.value;
          if (onShapeChange) onShapeChange(node);
          builder.changed(true);
        },
      }
    );
  };

  // The value's shape follows the operator: one value, a list, a range, a number of days, or none.
  RuleBuilder.prototype.reshape = function (node) {
    var spec = this.catalogue.operators[node.operator];
    var shape = spec ? spec.shape : "one";
    var value = node.value;
    var first = Array.isArray(value) ? value[0] : value;
    if (shape === "none") delete node.value;
    else if (shape === "list") node.value = Array.isArray(value) ? value.filter(Boolean) : first ? [first] : [];
    else if (shape === "range") node.value = Array.isArray(value) && value.length === 2 ? value : [first || "", ""];
    else if (shape === "days") node.value = /^\d+$/.test(String(first)) ? first : "";
    else node.value = first === undefined || first === null ? "" : first;
  };

  RuleBuilder.prototype.valueInputs = function (node, path, valueType) {
    var spec = this.catalogue.operators[node.operator];
    var shape = spec ? spec.shape : "none";
    var texts = this.texts;
    if (shape === "none" || valueType === "boolean") return [];
    if (shape === "days") {
      return [
        // The operator's label holds the unit ("is in the last … days"): the number fills its "…".
        this.input(node, "value", "number", { min: 1, step: 1, focus: path + ":value", className: "rb-short", placeholder: "30", label: this.texts.number_of_days }),
      ];
    }
    if (shape === "range") {
      if (!Array.isArray(node.value) || node.value.length !== 2) node.value = ["", ""];
      return [
        this.input(node.value, 0, valueType, { focus: path + ":low", label: texts.from }),
        el("span", { text: texts.and }),
        this.input(node.value, 1, valueType, { focus: path + ":high", label: texts.to }),
      ];
    }
    if (shape === "list") return [this.listInput(node, "value", valueType, path)];
    return [this.input(node, "value", valueType, { focus: path + ":value" })];
  };

  // Several values ("is one of"): each one a chip; Enter, ";" or a pasted column adds them.
  RuleBuilder.prototype.listInput = function (owner, key, valueType, path) {
    var builder = this;
    var texts = this.texts;
    if (!Array.isArray(owner[key])) owner[key] = owner[key] ? [owner[key]] : [];
    var values = owner[key];
    var chips = el("span", { className: "rb-chips" });
    var box = el("div", { className: "rb-list" }, [chips]);

    function drawChips() {
      chips.replaceChildren();
      values.forEach(function (value, position) {
        chips.append(
          el("span", { className: "rb-chip" }, [
            String(value),
            el("button", {
              type: "button",
              className: "rb-chip-remove",
              "aria-label": format(texts.remove_value, { value: value }),
              title: format(texts.remove_value, { value: value }),
              text: "×",
              onclick: function () {
                values.splice(position, 1);
                drawChips();
                builder.changed(false);
              },
            }),
          ])
        );
      });
    }

    function add(text) {
      var added = false;
      String(text)
        .split(/[\n;\t]/)
        .map(function (part) {
          return part.trim();
        })
        .filter(Boolean)
        .forEach(function (part) {
          if (values.indexOf(part) < 0) {
            values.push(part);
            added = true;
          }
        });
      if (added) {
        drawChips();
        builder.changed(false);
      }
    }

    var entry = el("input", {
      type: valueType === "date" || valueType === "datetime" ? "date" : valueType === "number" ? "number" : "text",
      step: valueType === "number" ? "any" : null,
      className: "rb-input rb-list-entry",
      placeholder: valueType === "date" || valueType === "datetime" ? null : texts.value,
      "aria-label": texts.list_hint,
      title: texts.list_hint,
      dataset: { focus: path + ":" + key + ":list" },
      onkeydown: function (event) {
        if (event.key === "Enter" || event.key === ";") {
          event.preventDefault();
          add(entry.value);
          entry.value = "";
        } else if (event.key === "Backspace" && !entry.value && values.length) {
          values.pop();
          drawChips();
          builder.changed(false);
        }
      },
      onpaste: function (event) {
        var pasted = (event.clipboardData || window.clipboardData).getData("text");
        if (/[\n;\t]/.test(pasted)) {
          event.preventDefault();
          add(pasted);
        }
      },
      onchange: function () {
        // A value typed but not confirmed with Enter still counts once the field is left.
        if (entry.value.trim()) {
          add(entry.value);
          entry.value = "";
        }
      },
    });
    box.append(entry, el("span", { className: "rb-hint", text: texts.list_hint }));
    drawChips();
    return box;
  };

  RuleBuilder.prototype.eventTypeControl = function (node, path) {
    var builder = this;
    var texts = this.texts;
    var known = this.catalogue.event_types;
    var isKnown = known.some(function (choice) {
      return choice[0] === node.event_type;
    });
    var custom = this.customEventTypes.has(node) || (node.event_type && !isKnown);
    var select = this.select(known.concat([[OTHER, texts.other_action]]), custom ? OTHER : node.event_type, {
      className: "rb-event-type",
      focus: path + ":event_type",
      placeholder: texts.choose_action,
      label: texts.choose_action,
      onchange: function (event) {
        if (event.target.value === OTHER) {
          builder.customEventTypes.add(node);
          node.event_type = "";
        } else {
          builder.customEventTypes.delete(node);
          node.event_type = event.target.value;
        }
        builder.changed(true);
      },
    });
    if (!custom) return [select];
    return [
      select,
      this.input(node, "event_type", "text", {
        placeholder: texts.action_name,
        focus: path + ":event_type_name",
        className: "rb-event-name",
      }),
    ];
  };

  RuleBuilder.prototype.windowControls = function (node, path) {
    var builder = this;
    var texts = this.texts;
    var period = node.window || "ever";
    var parts = [
      this.select(this.catalogue.windows, period, {
        className: "rb-window",
        focus: path + ":window",
        label: texts.choose,
        onchange: function (event) {
          node.window = event.target.value;
          delete node.days;
          delete node.from;
          delete node.to;
          if (node.window === "last_days") node.days = 30;
          builder.changed(true);
        },
      }),
    ];
    if (period === "last_days") {
      parts.push(
        this.input(node, "days", "number", { min: 1, step: 1, focus: path + ":days", className: "rb-short", placeholder: "30", label: this.texts.number_of_days })
      );
    } else if (period === "between") {
      parts.push(
        el("span", { text: texts.from }),
        this.input(node, "from", "date", { focus: path + ":from", label: texts.from }),
        el("span", { text: texts.to }),
        this.input(node, "to", "date", { focus: path + ":to", label: texts.to })
      );
    }
    return parts;
  };

  // -- One kind of condition each ----------------------------------------------------------

  RuleBuilder.prototype.valueControls = function (node, path, controls, spec) {
    var builder = this;
    controls.append(
      this.operatorSelect(node, path, spec.operators, function (changed) {
        builder.reshape(changed);
      })
    );
    this.valueInputs(node, path, spec.type).forEach(function (part) {
      controls.append(part);
    });
  };

  RuleBuilder.prototype.controls_trait = function (node, path, controls) {
    var builder = this;
    var texts = this.texts;
    var traits = this.catalogue.traits;
    var listId = this.root.dataset.source + "_traits";
    if (!document.getElementById(listId)) {
      this.root.append(
        el(
          "datalist",
          { id: listId },
          traits.map(function (trait) {
            return el("option", { value: trait.key });
          })
        )
      );
    }
    var valueType = node.value_type || "text";
    var operators = this.catalogue.operators_by_type[valueType] || [];
    controls.append(
      this.input(node, "key", "text", {
        placeholder: texts.trait_key,
        list: listId,
        focus: path + ":key",
        className: "rb-trait-key",
        onchange: function () {
          // A known trait brings the kind of its values.
          var found = traits.filter(function (trait) {
            return trait.key === node.key;
          })[0];
          if (found && found.kind !== node.value_type) {
            node.value_type = found.kind;
            if ((builder.catalogue.operators_by_type[found.kind] || []).indexOf(node.operator) < 0) {
              node.operator = builder.catalogue.operators_by_type[found.kind][0];
            }
            builder.reshape(node);
            builder.changed(true);
          }
        },
      }),
      el("span", { text: texts.trait_kind }),
      this.select(this.catalogue.trait_kinds, valueType, {
        className: "rb-trait-kind",
        focus: path + ":value_type",
        label: texts.trait_kind,
        onchange: function (event) {
          node.value_type = event.target.value;
          var allowed = builder.catalogue.operators_by_type[node.value_type] || [];
          if (allowed.indexOf(node.operator) < 0) node.operator = allowed[0];
          builder.reshape(node);
          builder.changed(true);
        },
      }),
      this.operatorSelect(node, path, operators, function (changed) {
        builder.reshape(changed);
      })
    );
    this.valueInputs(node, path, valueType).forEach(function (part) {
      controls.append(part);
    });
  };

  RuleBuilder.prototype.specialOperator = function (node, path, spec) {
    return this.operatorSelect(node, path, spec.operators);
  };

  RuleBuilder.prototype.choiceControl = function (node, key, choices, path, placeholder) {
    var builder = this;
    return this.select(choices, node[key], {
      focus: path + ":" + key,
      placeholder: placeholder || null,
      label: placeholder || this.texts.choose,
      onchange: function (event) {
        node[key] = event.target.value;
        builder.changed(false);
      },
    });
  };

  RuleBuilder.prototype.controls_identifier = function (node, path, controls, spec) {
    controls.append(
      this.specialOperator(node, path, spec),
      this.choiceControl(node, "value", this.catalogue.identifier_kinds, path)
    );
  };

  RuleBuilder.prototype.controls_identity = function (node, path, controls, spec) {
    controls.append(this.specialOperator(node, path, spec));
  };

  RuleBuilder.prototype.controls_consent = function (node, path, controls, spec) {
    controls.append(
      this.specialOperator(node, path, spec),
      this.choiceControl(node, "value", this.catalogue.channels, path)
    );
  };

  RuleBuilder.prototype.controls_event = function (node, path, controls, spec) {
    var builder = this;
    var texts = this.texts;
    this.eventTypeControl(node, path).forEach(function (part) {
      controls.append(part);
    });
    controls.append(
      this.operatorSelect(node, path, spec.operators, function (changed) {
        if (["at_least", "at_most", "exactly"].indexOf(changed.operator) >= 0) {
          if (changed.count === undefined) changed.count = changed.operator === "at_least" ? 2 : 1;
        } else {
          delete changed.count;
        }
      })
    );
    if (["at_least", "at_most", "exactly"].indexOf(node.operator) >= 0) {
      controls.append(
        this.input(node, "count", "number", { min: 0, step: 1, focus: path + ":count", className: "rb-short", label: this.texts.number_of_times })
      );
    }
    this.windowControls(node, path).forEach(function (part) {
      controls.append(part);
    });
    controls.append(this.propertyFilter(node, path));
  };

  RuleBuilder.prototype.propertyFilter = function (node, path) {
    var builder = this;
    var texts = this.texts;
    if (node.property_key === undefined) {
      return el("button", {
        type: "button",
        className: "rb-link",
        text: texts.property_add,
        dataset: { focus: path + ":property_add" },
        onclick: function () {
          node.property_key = "";
          node.property_operator = "equals";
          node.property_value = "";
          builder.changed(true);
          var key = builder.tree.querySelector('[data-focus="' + path + ':property_key"]');
          if (key) key.focus();
        },
      });
    }
    var operator = node.property_operator || "equals";
    var value;
    if (operator === "in") {
      value = this.listInput(node, "property_value", "text", path);
    } else {
      if (Array.isArray(node.property_value)) node.property_value = node.property_value[0] || "";
      value = this.input(node, "property_value", operator === "gt" || operator === "lt" ? "number" : "text", {
        focus: path + ":property_value",
      });
    }
    return el("span", { className: "rb-property" }, [
      el("span", { text: texts.property_where }),
      this.input(node, "property_key", "text", {
        placeholder: texts.property_key,
        focus: path + ":property_key",
        className: "rb-property-key",
      }),
      this.select(this.catalogue.property_operators, operator, {
        focus: path + ":property_operator",
        label: texts.choose,
        onchange: function (event) {
          node.property_operator = event.target.value;
          if (node.property_operator === "in") {
            node.property_value = node.property_value ? [node.property_value].flat() : [];
          } else if (Array.isArray(node.property_value)) {
            node.property_value = node.property_value[0] || "";
          }
          builder.changed(true);
        },
      }),
      value,
      this.removeButton(texts.property_remove, path + ":property_remove", function () {
        delete node.property_key;
        delete node.property_operator;
        delete node.property_value;
        builder.changed(true);
      }),
    ]);
  };

  RuleBuilder.prototype.controls_revenue = function (node, path, controls, spec) {
    var builder = this;
    var texts = this.texts;
    controls.append(
      this.choiceControl(node, "aggregate", this.catalogue.revenue_aggregates, path),
      el("span", { text: texts.of_action })
    );
    this.eventTypeControl(node, path).forEach(function (part) {
      controls.append(part);
    });
    controls.append(
      this.operatorSelect(node, path, spec.operators, function (changed) {
        builder.reshape(changed);
      })
    );
    this.valueInputs(node, path, "number").forEach(function (part) {
      controls.append(part);
    });
    this.windowControls(node, path).forEach(function (part) {
      controls.append(part);
    });
  };

  RuleBuilder.prototype.controls_last_event = function (node, path, controls, spec) {
    this.eventTypeControl(node, path).forEach(function (part) {
      controls.append(part);
    });
    controls.append(
      this.specialOperator(node, path, spec),
      this.input(node, "value", "number", { min: 1, step: 1, focus: path + ":value", className: "rb-short", placeholder: "30" })
    );
  };

  RuleBuilder.prototype.controls_rfm = function (node, path, controls) {
    var builder = this;
    var texts = this.texts;
    if (!Array.isArray(node.value)) node.value = [];
    var bands = el("span", { className: "rb-bands", role: "group", "aria-label": texts.rfm_bands }, [
      el("span", { text: texts.rfm_bands }),
    ]);
    this.catalogue.rfm_bands.forEach(function (band) {
      var id = builder.root.dataset.source + "_rfm_" + path.replace(/\./g, "_") + "_" + band;
      bands.append(
        el("label", { className: "rb-band", for: id }, [
          el("input", {
            type: "checkbox",
            id: id,
            checked: node.value.indexOf(band) >= 0,
            dataset: { focus: path + ":band" + band },
            onchange: function (event) {
              var others = node.value.filter(function (item) {
                return item !== band;
              });
              node.value = event.target.checked ? others.concat([band]).sort() : others;
              builder.changed(false);
            },
          }),
          String(band),
        ])
      );
    });
    controls.append(
      this.choiceControl(node, "dimension", this.catalogue.rfm_dimensions, path),
      bands,
      el("span", { text: texts.rfm_days }),
      this.input(node, "days", "number", { min: 1, step: 1, focus: path + ":days", className: "rb-short" }),
      el("span", { text: texts.days })
    );
  };

  RuleBuilder.prototype.controls_segment = function (node, path, controls, spec) {
    var texts = this.texts;
    var segments = this.catalogue.segments.map(function (segment) {
      return [segment.id, segment.name];
    });
    controls.append(this.specialOperator(node, path, spec));
    if (!segments.length) {
      controls.append(el("span", { className: "help", text: texts.no_segment }));
      return;
    }
    controls.append(this.choiceControl(node, "value", segments, path, texts.choose_segment));
  };

  // "Score … is above 40" or "is in the top 10 %": the score, the operator, a number.
  RuleBuilder.prototype.controls_score = function (node, path, controls, spec) {
    var texts = this.texts;
    var scores = (this.catalogue.scores || []).map(function (score) {
      return [score.id, score.name];
    });
    if (!scores.length) {
      controls.append(el("span", { className: "help", text: texts.no_score }));
      return;
    }
    controls.append(
      this.choiceControl(node, "score", scores, path, texts.choose_score),
      this.specialOperator(node, path, spec),
      this.input(node, "value", "number", { focus: path + ":value", className: "rb-short", placeholder: "10" })
    );
    if (node.operator === "score_top_percent") controls.append(el("span", { text: texts.percent }));
  };

  // -- Live preview ---------------------------------------------------------------------------

  RuleBuilder.prototype.schedulePreview = function (delay) {
    var builder = this;
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(function () {
      builder.refreshPreview();
    }, delay);
  };

  RuleBuilder.prototype.csrfToken = function () {
    var input = this.form ? this.form.querySelector('input[name="csrfmiddlewaretoken"]') : null;
    return input ? input.value : "";
  };

  RuleBuilder.prototype.refreshPreview = function () {
    var builder = this;
    var texts = this.texts;
    if (this.isStatic()) return;
    if (!this.rules.conditions.length) {
      this.markInvalid([]);
      this.preview.replaceChildren(el("p", { className: "rb-note", text: texts.empty_root }));
      return;
    }
    if (this.request) this.request.abort();
    var request = new AbortController();
    this.request = request;
    this.preview.classList.add("rb-busy");
    if (!this.preview.childNodes.length) this.preview.append(el("p", { className: "rb-note", text: texts.preview_counting }));
    fetch(this.previewUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": this.csrfToken() },
      body: JSON.stringify({ rules: this.rules, segment_id: this.segmentId }),
      signal: request.signal,
    })
      .then(function (response) {
        if (!response.ok) {
          var failed = new Error(format(texts.preview_failed, { status: response.status }));
          failed.shown = true;
          throw failed;
        }
        return response.json();
      })
      .then(function (data) {
        builder.showPreview(data);
      })
      .catch(function (error) {
        if (error.name === "AbortError") return;
        builder.preview.classList.remove("rb-busy");
        builder.preview.replaceChildren(
          el("p", { className: "rb-preview-problem", text: error.shown ? error.message : texts.preview_offline })
        );
      });
  };

  RuleBuilder.prototype.markInvalid = function (errors) {
    var tree = this.tree;
    tree.querySelectorAll(".rb-invalid").forEach(function (node) {
      node.classList.remove("rb-invalid");
    });
    errors.forEach(function (message) {
      // Messages name their condition ("Condition 2.1 (City): …"): outline it.
      var found = /(\d+(?:\.\d+)*)/.exec(message);
      if (!found) return;
      var target = tree.querySelector('[data-path="' + found[1] + '"]');
      if (target) target.classList.add("rb-invalid");
    });
  };

  RuleBuilder.prototype.showPreview = function (data) {
    var texts = this.texts;
    this.preview.classList.remove("rb-busy");
    var errors = data.errors || [];
    this.markInvalid(errors);
    if (errors.length) {
      this.preview.replaceChildren(
        el("p", { className: "rb-preview-title", text: texts.preview_errors }),
        el(
          "ul",
          { className: "errorlist rb-errors" },
          errors.map(function (message) {
            return el("li", { text: message });
          })
        )
      );
      return;
    }
    var count = data.count || 0;
    var language = document.documentElement.lang || undefined;
    var headline =
      count === 0
        ? texts.preview_none
        : count === 1
          ? texts.preview_one
          : format(texts.preview_many, { count: new Intl.NumberFormat(language).format(count) });
    var children = [
      el("p", { className: "rb-preview-count" + (count ? "" : " rb-preview-nobody"), text: headline }),
      el("p", { className: "rb-note", text: texts.preview_note }),
    ];
    if (data.sample && data.sample.length) {
      children.push(
        el("table", { className: "rb-sample" }, [
          el("caption", { text: texts.preview_sample }),
          el("thead", {}, [
            el("tr", {}, [
              el("th", { scope: "col", text: texts.column_name }),
              el("th", { scope: "col", text: texts.column_identifiers }),
              el("th", { scope: "col", text: texts.column_city }),
            ]),
          ]),
          el(
            "tbody",
            {},
            data.sample.map(function (profile) {
              return el("tr", {}, [
                el("td", {}, [el("a", { href: profile.url, text: profile.name, target: "_blank", rel: "noopener" })]),
                el("td", { text: profile.identifiers }),
                el("td", { text: profile.city || "—" }),
              ]);
            })
          ),
        ])
      );
    }
    this.preview.replaceChildren.apply(this.preview, children);
  };

  function start() {
    document.querySelectorAll("[data-rule-builder]").forEach(function (root) {
      if (!root.dataset.ready) {
        root.dataset.ready = "1";
        new RuleBuilder(root);
      }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
