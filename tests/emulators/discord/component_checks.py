"""Checks of message components and modals against Discord's documented limits: action rows,
components-v2 layouts, buttons, selects, text inputs, and unique custom ids.
"""

from __future__ import annotations

from typing import Any

from tests.emulators.discord.errors import FormErrors
from tests.emulators.discord.protocol import JSON, SELECT_TYPES, as_object


def check_components(components: Any, errors: FormErrors, *, v2: bool) -> None:
    seen: set[str] = set()
    rows = errors.items(("components",), components, max_items=40 if v2 else 5)
    for index, raw in enumerate(rows):
        path = ("components", index)
        if v2:
            _check_layout_component(as_object(raw), path, errors, seen)
        else:
            _check_action_row(as_object(raw), path, errors, seen)


def _check_action_row(
    row: JSON, path: tuple[str | int, ...], errors: FormErrors, seen: set[str]
) -> None:
    if row.get("type") != 1:
        errors.add(
            (*path, "type"), "UNION_TYPE_CHOICES", 'Value of field "type" must be one of (1,).'
        )
        return
    children = [
        as_object(c)
        for c in errors.items(
            (*path, "components"), row.get("components"), max_items=5, min_items=1
        )
    ]
    if len(children) > 1 and any(c.get("type") in SELECT_TYPES for c in children):
        errors.add(
            (*path, "components"),
            "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
            "The specified component exceeds the maximum width",
        )
    for index, child in enumerate(children):
        where = (*path, "components", index)
        if child.get("type") == 2:
            _check_button(child, where, errors, seen)
        elif child.get("type") in SELECT_TYPES:
            _check_select(child, where, errors, seen)
        else:
            errors.add((*where, "type"), "COMPONENT_TYPE_INVALID", "Invalid component type")


def _check_layout_component(
    component: JSON, path: tuple[str | int, ...], errors: FormErrors, seen: set[str]
) -> None:
    """Check a components-v2 layout node: rows inside are checked, text displays measured."""
    kind = component.get("type")
    if kind == 1:
        _check_action_row(component, path, errors, seen)
        return
    if kind == 10:
        errors.text((*path, "content"), component.get("content"), min_len=1, max_len=4000)
    accessory = component.get("accessory")
    if isinstance(accessory, dict) and accessory.get("type") == 2:
        _check_button(accessory, (*path, "accessory"), errors, seen)
    for index, child in enumerate(component.get("components") or []):
        _check_layout_component(as_object(child), (*path, "components", index), errors, seen)


def _check_custom_id(
    value: Any, path: tuple[str | int, ...], errors: FormErrors, seen: set[str]
) -> None:
    errors.text(path, value, min_len=1, max_len=100, required=True)
    if isinstance(value, str):
        if value in seen:
            errors.add(
                path, "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated"
            )
        seen.add(value)


def _check_button(
    button: JSON, path: tuple[str | int, ...], errors: FormErrors, seen: set[str]
) -> None:
    style = button.get("style")
    if style not in range(1, 7):
        errors.add(
            (*path, "style"), "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4, 5, 6}."
        )
    errors.text((*path, "label"), button.get("label"), max_len=80)
    if style == 5:
        errors.text((*path, "url"), button.get("url"), min_len=1, max_len=512, required=True)
        if "custom_id" in button:
            errors.add(
                (*path, "custom_id"),
                "BUTTON_COMPONENT_CUSTOM_ID_WITH_URL",
                "A link button cannot have a custom id",
            )
    elif style == 6:
        if not button.get("sku_id"):
            errors.add((*path, "sku_id"), "BASE_TYPE_REQUIRED", "This field is required")
    else:
        _check_custom_id(button.get("custom_id"), (*path, "custom_id"), errors, seen)
    if style != 6 and not button.get("label") and not button.get("emoji"):
        errors.add(
            (*path, "label"),
            "BUTTON_COMPONENT_LABEL_OR_EMOJI_REQUIRED",
            "A label or an emoji is required",
        )


def _check_select(
    select: JSON, path: tuple[str | int, ...], errors: FormErrors, seen: set[str]
) -> None:
    _check_custom_id(select.get("custom_id"), (*path, "custom_id"), errors, seen)
    errors.text((*path, "placeholder"), select.get("placeholder"), max_len=150)
    errors.number((*path, "min_values"), select.get("min_values"), low=0, high=25)
    errors.number((*path, "max_values"), select.get("max_values"), low=1, high=25)
    if select.get("type") != 3:
        return
    options = errors.items((*path, "options"), select.get("options"), max_items=25, min_items=1)
    values: set[str] = set()
    for index, raw in enumerate(options):
        option, where = as_object(raw), (*path, "options", index)
        errors.text((*where, "label"), option.get("label"), min_len=1, max_len=100, required=True)
        errors.text((*where, "value"), option.get("value"), min_len=1, max_len=100, required=True)
        errors.text((*where, "description"), option.get("description"), max_len=100)
        if option.get("value") in values:
            errors.add(
                (*where, "value"),
                "SELECT_COMPONENT_OPTION_VALUE_DUPLICATED",
                "Option values must be unique",
            )
        if isinstance(option.get("value"), str):
            values.add(option["value"])


def check_modal(data: JSON, errors: FormErrors) -> None:
    errors.text(("data", "custom_id"), data.get("custom_id"), min_len=1, max_len=100, required=True)
    errors.text(("data", "title"), data.get("title"), min_len=1, max_len=45, required=True)
    seen: set[str] = set()
    rows = errors.items(("data", "components"), data.get("components"), max_items=5, min_items=1)
    for index, raw in enumerate(rows):
        component, path = as_object(raw), ("data", "components", index)
        kind = component.get("type")
        if kind == 1:
            inner = errors.items(
                (*path, "components"), component.get("components"), max_items=1, min_items=1
            )
            for number, item in enumerate(inner):
                row_path = (*path, "components", number)
                _check_text_input(as_object(item), row_path, errors, seen, labelled=False)
        elif kind == 18:
            label = component.get("label")
            errors.text((*path, "label"), label, min_len=1, max_len=45, required=True)
            errors.text((*path, "description"), component.get("description"), max_len=100)
            inner_component = as_object(component.get("component"))
            if inner_component.get("type") == 4:
                label_path = (*path, "component")
                _check_text_input(inner_component, label_path, errors, seen, labelled=True)
            elif inner_component.get("type") in SELECT_TYPES:
                _check_select(inner_component, (*path, "component"), errors, seen)
            elif inner_component.get("type") != 19:
                errors.add(
                    (*path, "component", "type"), "COMPONENT_TYPE_INVALID", "Invalid component type"
                )
        elif kind == 10:
            errors.text((*path, "content"), component.get("content"), min_len=1, max_len=4000)
        else:
            errors.add((*path, "type"), "COMPONENT_TYPE_INVALID", "Invalid component type")


def _check_text_input(
    text_input: JSON,
    path: tuple[str | int, ...],
    errors: FormErrors,
    seen: set[str],
    *,
    labelled: bool,
) -> None:
    if text_input.get("type") != 4:
        errors.add((*path, "type"), "COMPONENT_TYPE_INVALID", "Invalid component type")
        return
    _check_custom_id(text_input.get("custom_id"), (*path, "custom_id"), errors, seen)
    if text_input.get("style") not in (1, 2):
        errors.add((*path, "style"), "BASE_TYPE_CHOICES", "Value must be one of {1, 2}.")
    label = text_input.get("label")
    errors.text((*path, "label"), label, min_len=1, max_len=45, required=not labelled)
    errors.number((*path, "min_length"), text_input.get("min_length"), low=0, high=4000)
    errors.number((*path, "max_length"), text_input.get("max_length"), low=1, high=4000)
    errors.text((*path, "value"), text_input.get("value"), max_len=4000)
    errors.text((*path, "placeholder"), text_input.get("placeholder"), max_len=100)
