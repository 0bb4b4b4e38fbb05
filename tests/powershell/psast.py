"""PowerShell source analysis with tree-sitter's PowerShell grammar (tree-sitter-pwsh).

Used by the static tests of the MSCommerce module:
- syntax errors (ERROR / MISSING nodes);
- the surface of the functions a script defines (parameter sets, types, positions, Mandatory,
  validation, pipeline binding, aliases, CmdletBinding options), as plain JSON-able dicts;
- the command invocations in a script, and a simplified model of PowerShell's parameter binding
  to check that a command line binds to a function's surface.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import tree_sitter
import tree_sitter_pwsh

ALL_SETS = "__AllParameterSets"

# Common parameters of every advanced function (CmdletBinding), with their aliases.
COMMON_PARAMETERS = {
    "Verbose": ["vb"],
    "Debug": ["db"],
    "ErrorAction": ["ea"],
    "WarningAction": ["wa"],
    "InformationAction": ["infa"],
    "ProgressAction": ["proga"],
    "ErrorVariable": ["ev"],
    "WarningVariable": ["wv"],
    "InformationVariable": ["iv"],
    "OutVariable": ["ov"],
    "OutBuffer": ["ob"],
    "PipelineVariable": ["pv"],
}
COMMON_SWITCHES = {"Verbose", "Debug"}
SHOULD_PROCESS_PARAMETERS = {"WhatIf": ["wi"], "Confirm": ["cf"]}


@lru_cache(maxsize=1)
def parser() -> tree_sitter.Parser:
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_pwsh.language()))


def parse(source: str | bytes) -> tuple[tree_sitter.Tree, bytes]:
    data = source.encode("utf-8") if isinstance(source, str) else source
    return parser().parse(data), data


def text(node: tree_sitter.Node, src: bytes) -> str:
    return src[node.start_byte:node.end_byte].decode("utf-8")


def walk(node: tree_sitter.Node):
    yield node
    for child in node.children:
        yield from walk(child)


def child_of(node: tree_sitter.Node, node_type: str) -> tree_sitter.Node | None:
    """The first named child of a type, or None."""
    return next((c for c in node.named_children if c.type == node_type), None)


def nodes_of(source: str | bytes, node_type: str) -> tuple[bytes, list[tree_sitter.Node]]:
    """(source bytes, every node of a type in document order)."""
    tree, src = parse(source)
    return src, [n for n in walk(tree.root_node) if n.type == node_type]


def syntax_problems(source: str | bytes) -> list[str]:
    """ERROR and MISSING nodes, as 'line:col: kind: text' strings (1-based lines)."""
    tree, src = parse(source)
    problems = []
    for node in walk(tree.root_node):
        if node.type == "ERROR" or node.is_missing:
            kind = "MISSING " + node.type if node.is_missing else "ERROR"
            snippet = text(node, src)[:80].replace("\n", "\\n")
            problems.append(f"{node.start_point[0] + 1}:{node.start_point[1] + 1}: {kind}: {snippet}")
    return problems


# --------------------------------------------------------------------------------------------
# Values of attribute arguments and defaults
# --------------------------------------------------------------------------------------------

def literal_value(node: tree_sitter.Node, src: bytes):
    """The value of a constant expression: strings, integers, $true/$false/$null, arrays of them.
    Anything else comes back as its source text prefixed with '?'."""
    while node.type in ("unary_expression", "pipeline", "pipeline_chain") and node.named_child_count == 1:
        node = node.named_children[0]
    kind = node.type
    raw = text(node, src)
    if kind == "string_literal":
        return unquote(raw)
    if kind in ("integer_literal", "decimal_integer_literal"):
        return int(raw)
    if kind == "variable":
        lowered = raw.lower()
        if lowered == "$true":
            return True
        if lowered == "$false":
            return False
        if lowered == "$null":
            return None
    if kind == "array_literal_expression":
        return [literal_value(child, src) for child in node.named_children]
    if kind == "generic_token":
        return raw
    return "?" + raw


def unquote(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] == "'":
        return raw[1:-1].replace("''", "'")
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        return raw[1:-1].replace('`"', '"').replace('""', '"')
    return raw


def normalize_type(type_name: str) -> str:
    """'System.Management.Automation.PSCredential' -> 'pscredential', 'String[]' -> 'string[]'."""
    name = type_name.strip().lower()
    suffix = ""
    while name.endswith("[]"):
        suffix += "[]"
        name = name[:-2]
    name = name.split(".")[-1]
    aliases = {"switchparameter": "switch", "psobject": "object", "system.object": "object", "int32": "int"}
    return aliases.get(name, name) + suffix


# --------------------------------------------------------------------------------------------
# Function surfaces
# --------------------------------------------------------------------------------------------

@dataclass
class Attribute:
    name: str
    positional: list = field(default_factory=list)
    named: dict = field(default_factory=dict)


def attributes_of(attribute_list: tree_sitter.Node | None, src: bytes) -> tuple[list[Attribute], list[str]]:
    """(attributes, type constraints) of an attribute_list node."""
    attributes: list[Attribute] = []
    types: list[str] = []
    if attribute_list is None:
        return attributes, types
    for attribute in attribute_list.named_children:
        if attribute.type != "attribute":
            continue
        type_literal = next((c for c in attribute.named_children if c.type == "type_literal"), None)
        if type_literal is not None:
            spec = next(c for c in type_literal.named_children if c.type == "type_spec")
            types.append(text(spec, src))
            continue
        name_node = next(c for c in attribute.named_children if c.type == "attribute_name")
        item = Attribute(text(name_node, src).split(".")[-1])
        arguments = next((c for c in attribute.named_children if c.type == "attribute_arguments"), None)
        if arguments is not None:
            for argument in arguments.named_children:
                if argument.type != "attribute_argument":
                    continue
                kids = argument.named_children
                if kids and kids[0].type == "simple_name" and any(c.type == "=" for c in argument.children):
                    item.named[text(kids[0], src).lower()] = literal_value(kids[-1], src)
                elif len(kids) == 1 and kids[0].type == "simple_name":
                    item.named[text(kids[0], src).lower()] = True
                else:
                    value = literal_value(kids[0], src)
                    if isinstance(value, list):
                        item.positional.extend(value)
                    else:
                        item.positional.append(value)
        attributes.append(item)
    return attributes, types


def truthy(value) -> bool:
    return value is True or (isinstance(value, int) and not isinstance(value, bool) and value != 0)


def param_block_surface(param_block: tree_sitter.Node, src: bytes) -> dict:
    """The surface of a param block: CmdletBinding options and parameters."""
    block_attributes, _ = attributes_of(next((c for c in param_block.named_children if c.type == "attribute_list"), None), src)
    surface = {
        "cmdletBinding": False,
        "defaultParameterSet": None,
        "supportsShouldProcess": False,
        "confirmImpact": None,
        "parameters": {},
    }
    for attribute in block_attributes:
        if attribute.name.lower() == "cmdletbinding":
            surface["cmdletBinding"] = True
            surface["defaultParameterSet"] = attribute.named.get("defaultparametersetname")
            surface["supportsShouldProcess"] = truthy(attribute.named.get("supportsshouldprocess", False))
            surface["confirmImpact"] = attribute.named.get("confirmimpact")
    parameter_list = next((c for c in param_block.named_children if c.type == "parameter_list"), None)
    if parameter_list is None:
        return surface
    for parameter in parameter_list.named_children:
        if parameter.type != "script_parameter":
            continue
        attributes, types = attributes_of(next((c for c in parameter.named_children if c.type == "attribute_list"), None), src)
        variable = next(c for c in parameter.named_children if c.type == "variable")
        name = text(variable, src).lstrip("$")
        default_node = next((c for c in parameter.named_children if c.type == "script_parameter_default"), None)
        entry = {
            "type": normalize_type(types[-1]) if types else "object",
            "aliases": [],
            "validateSet": None,
            "validateRange": None,
            "validateNotNullOrEmpty": False,
            "default": literal_value(default_node.named_children[-1], src) if default_node is not None else None,
            "sets": {},
        }
        for attribute in attributes:
            lowered = attribute.name.lower()
            if lowered == "parameter":
                set_name = attribute.named.get("parametersetname", ALL_SETS)
                entry["sets"][set_name] = {
                    "mandatory": truthy(attribute.named.get("mandatory", False)),
                    "position": attribute.named.get("position"),
                    "valueFromPipeline": truthy(attribute.named.get("valuefrompipeline", False)),
                    "valueFromPipelineByPropertyName": truthy(attribute.named.get("valuefrompipelinebypropertyname", False)),
                }
            elif lowered == "alias":
                entry["aliases"].extend(attribute.positional)
            elif lowered == "validateset":
                entry["validateSet"] = list(attribute.positional)
            elif lowered == "validaterange":
                entry["validateRange"] = list(attribute.positional)
            elif lowered == "validatenotnullorempty":
                entry["validateNotNullOrEmpty"] = True
        if not entry["sets"]:
            entry["sets"][ALL_SETS] = {
                "mandatory": False,
                "position": None,
                "valueFromPipeline": False,
                "valueFromPipelineByPropertyName": False,
            }
        surface["parameters"][name] = entry
    return surface


@dataclass
class FunctionInfo:
    name: str
    node: tree_sitter.Node
    src: bytes
    help_comment: str | None
    surface: dict
    # The scope modifier of the declaration ("script" for `function script:Name`), lower case.
    scope: str | None = None


def functions_in(source: str | bytes) -> list[FunctionInfo]:
    """Top-level and nested function definitions with their surface and comment-based help."""
    src, statements = nodes_of(source, "function_statement")
    result = []
    for node in statements:
        name = text(child_of(node, "function_name"), src)
        scope = None
        if ":" in name:
            scope, name = name.split(":", 1)
            scope = scope.lower()
        script_block = child_of(node, "script_block")
        param_block = child_of(script_block, "param_block") if script_block is not None else None
        help_comment = None
        for child in node.named_children:
            if child.type == "comment" and text(child, src).startswith("<#"):
                help_comment = text(child, src)
                break
        if help_comment is None and script_block is not None:
            for child in script_block.named_children:
                if child.type == "comment" and text(child, src).startswith("<#"):
                    help_comment = text(child, src)
                    break
        surface = param_block_surface(param_block, src) if param_block is not None else {
            "cmdletBinding": False,
            "defaultParameterSet": None,
            "supportsShouldProcess": False,
            "confirmImpact": None,
            "parameters": {},
        }
        result.append(FunctionInfo(name, node, src, help_comment, surface, scope))
    return result


def parse_help(comment: str) -> dict:
    """Comment-based help -> {'SYNOPSIS': str, 'DESCRIPTION': str, 'PARAMETER': {name: str},
    'EXAMPLE': [str], ...}."""
    body = comment
    if body.startswith("<#"):
        body = body[2:]
    if body.endswith("#>"):
        body = body[:-2]
    sections: dict = {"PARAMETER": {}, "EXAMPLE": [], "LINK": []}
    current = None
    argument = None
    lines: list[str] = []

    def flush():
        if current is None:
            return
        content = "\n".join(lines).strip("\n")
        content = dedent(content)
        if current == "PARAMETER":
            sections["PARAMETER"][argument] = content
        elif current in ("EXAMPLE", "LINK"):
            sections[current].append(content)
        else:
            sections[current] = content

    for line in body.splitlines():
        match = re.match(r"^\s*\.([A-Za-z]+)\s*(\S*)\s*$", line)
        if match and match.group(1).upper() in {
            "SYNOPSIS", "DESCRIPTION", "PARAMETER", "EXAMPLE", "INPUTS", "OUTPUTS", "NOTES", "LINK",
            "COMPONENT", "ROLE", "FUNCTIONALITY", "FORWARDHELPTARGETNAME", "EXTERNALHELP",
        }:
            flush()
            current = match.group(1).upper()
            argument = match.group(2) or None
            lines = []
        else:
            lines.append(line)
    flush()
    return sections


def dedent(block: str) -> str:
    lines = block.splitlines()
    indents = [len(line) - len(line.lstrip()) for line in lines if line.strip()]
    cut = min(indents) if indents else 0
    return "\n".join(line[cut:] for line in lines).strip()


# --------------------------------------------------------------------------------------------
# Command invocations and parameter binding
# --------------------------------------------------------------------------------------------

@dataclass
class Invocation:
    name: str
    line: int
    source: str
    named: list  # the ('param', name as typed, colon form) entries of elements
    elements: list  # ('param', name as typed, colon form) | ('arg', source text, node type)
    receives_pipeline_input: bool
    splatted: bool


def invocations_in(source: str | bytes) -> list[Invocation]:
    src, commands = nodes_of(source, "command")
    found = []
    for node in commands:
        name_node = child_of(node, "command_name")
        if name_node is None:
            continue
        elements_node = child_of(node, "command_elements")
        elements = []
        splatted = False
        if elements_node is not None:
            for child in elements_node.children:
                if child.type == "command_argument_sep":
                    if text(child, src).strip() == ":" and elements and elements[-1][0] == "param":
                        elements[-1] = ("param", elements[-1][1], True)
                    continue
                if child.type == "command_parameter":
                    elements.append(("param", text(child, src).lstrip("-").rstrip(":"), text(child, src).endswith(":")))
                    continue
                if child.type == "comment":
                    continue
                raw = text(child, src)
                if raw.startswith("@") and re.match(r"^@[A-Za-z_][\w]*$", raw):
                    splatted = True
                    continue
                inner = child
                while inner.type == "unary_expression" and inner.named_child_count == 1:
                    inner = inner.named_children[0]
                elements.append(("arg", raw, inner.type))
        previous = node.prev_sibling
        receives = previous is not None and previous.type == "|"
        found.append(Invocation(
            name=text(name_node, src),
            line=node.start_point[0] + 1,
            source=text(node, src),
            named=[e for e in elements if e[0] == "param"],
            elements=elements,
            receives_pipeline_input=receives,
            splatted=splatted,
        ))
    return found


class BindingError(AssertionError):
    pass


def parameter_names(surface: dict) -> dict:
    """Lower-cased name or alias -> canonical parameter name, including common parameters."""
    names = {}
    for name, entry in surface["parameters"].items():
        names[name.lower()] = name
        for alias in entry["aliases"]:
            names[str(alias).lower()] = name
    if surface["cmdletBinding"]:
        for name, aliases in COMMON_PARAMETERS.items():
            names.setdefault(name.lower(), name)
            for alias in aliases:
                names.setdefault(alias, name)
        if surface["supportsShouldProcess"]:
            for name, aliases in SHOULD_PROCESS_PARAMETERS.items():
                names.setdefault(name.lower(), name)
                for alias in aliases:
                    names.setdefault(alias, name)
    return names


def resolve_parameter(surface: dict, typed: str) -> str:
    """PowerShell's name resolution: exact name or alias, else a unique prefix."""
    names = parameter_names(surface)
    lowered = typed.lower()
    if lowered in names:
        return names[lowered]
    matches = {canonical for key, canonical in names.items() if key.startswith(lowered)}
    if len(matches) == 1:
        return matches.pop()
    if not matches:
        raise BindingError(f"A parameter cannot be found that matches parameter name '{typed}'.")
    raise BindingError(f"Parameter '{typed}' is ambiguous: {sorted(matches)}.")


def is_switch(surface: dict, canonical: str) -> bool:
    if canonical in surface["parameters"]:
        return surface["parameters"][canonical]["type"] == "switch"
    return canonical in COMMON_SWITCHES or canonical in SHOULD_PROCESS_PARAMETERS


def all_set_names(surface: dict) -> list[str]:
    sets = set()
    for entry in surface["parameters"].values():
        sets.update(s for s in entry["sets"] if s != ALL_SETS)
    if not sets:
        sets.add(surface["defaultParameterSet"] or ALL_SETS)
    return sorted(sets)


def in_set(entry: dict, set_name: str) -> dict | None:
    if set_name in entry["sets"]:
        return entry["sets"][set_name]
    return entry["sets"].get(ALL_SETS)


def bind(surface: dict, invocation: Invocation) -> str:
    """Binds an invocation to a surface the way PowerShell would (named parameters by name, alias
    or unique prefix; switches take no argument unless given with a colon; the rest positionally
    by Position within a parameter set; every mandatory parameter of the set bound, or bindable
    from pipeline input by property name; ValidateSet checked for literal arguments). Returns the
    parameter set chosen; raises BindingError."""
    bound: dict[str, str | None] = {}
    positional: list[str] = []
    elements = list(invocation.elements)
    index = 0
    while index < len(elements):
        kind, value, extra = elements[index]
        index += 1
        if kind == "arg":
            positional.append(value)
            continue
        canonical = resolve_parameter(surface, value)
        if canonical in bound:
            raise BindingError(f"Parameter '{canonical}' is specified more than once.")
        argument = None
        if extra:  # -Name:value
            if index < len(elements) and elements[index][0] == "arg":
                argument = elements[index][1]
                index += 1
        elif not is_switch(surface, canonical):
            if index >= len(elements) or elements[index][0] != "arg":
                raise BindingError(f"Missing an argument for parameter '{canonical}'.")
            argument = elements[index][1]
            index += 1
        bound[canonical] = argument

    own = {name: arg for name, arg in bound.items() if name in surface["parameters"]}
    for name, argument in own.items():
        valid = surface["parameters"][name]["validateSet"]
        if valid and argument is not None and re.match(r"^'[^']*'$|^\"[^\"$`]*\"$|^[A-Za-z0-9_]+$", argument):
            literal = unquote(argument)
            if literal.lower() not in {str(v).lower() for v in valid}:
                raise BindingError(f"Cannot validate argument on parameter '{name}': '{literal}' is not one of {valid}.")

    candidates = []
    problems = []
    for set_name in all_set_names(surface):
        members = {name: in_set(entry, set_name) for name, entry in surface["parameters"].items()}
        members = {name: info for name, info in members.items() if info is not None}
        missing_named = [name for name in own if name not in members]
        if missing_named:
            problems.append(f"{set_name}: {missing_named} not in this set")
            continue
        slots = sorted(
            (info["position"], name)
            for name, info in members.items()
            if isinstance(info["position"], int) and name not in own
        )
        if len(positional) > len(slots):
            problems.append(f"{set_name}: {len(positional)} positional arguments, {len(slots)} positions")
            continue
        filled = set(own) | {name for _, name in slots[:len(positional)]}
        unmet = []
        for name, info in members.items():
            if not info["mandatory"] or name in filled:
                continue
            if invocation.receives_pipeline_input and (info["valueFromPipelineByPropertyName"] or info["valueFromPipeline"]):
                continue
            unmet.append(name)
        if unmet and not invocation.splatted:
            problems.append(f"{set_name}: mandatory {unmet} not bound")
            continue
        candidates.append(set_name)

    if not candidates:
        raise BindingError("Parameter set cannot be resolved: " + "; ".join(problems))
    default = surface["defaultParameterSet"]
    if len(candidates) == 1:
        return candidates[0]
    if default in candidates:
        return default
    if invocation.splatted or invocation.receives_pipeline_input:
        return candidates[0]
    raise BindingError(f"Parameter set cannot be resolved using the specified named parameters: {candidates}.")


# --------------------------------------------------------------------------------------------
# Data files (.psd1)
# --------------------------------------------------------------------------------------------

def data_value(node: tree_sitter.Node, src: bytes):
    """Evaluates the constant subset of PowerShell used in module manifests: hashtables, @() arrays,
    comma lists, strings, numbers, $true/$false/$null."""
    while node.type in ("unary_expression", "pipeline", "pipeline_chain", "statement_list", "assignment_value") and node.named_child_count == 1:
        node = node.named_children[0]
    if node.type == "hash_literal_expression":
        result = {}
        body = next((c for c in node.named_children if c.type == "hash_literal_body"), None)
        if body is not None:
            for entry in body.named_children:
                if entry.type != "hash_entry":
                    continue
                key = unquote(text(entry.named_children[0], src))
                result[key] = data_value(entry.named_children[-1], src)
        return result
    if node.type == "array_expression":
        if node.named_child_count == 0:
            return []
        value = data_value(node.named_children[0], src)
        return value if isinstance(value, list) else [value]
    if node.type == "array_literal_expression":
        return [data_value(child, src) for child in node.named_children]
    return literal_value(node, src)


def read_psd1(source: str | bytes) -> dict:
    tree, src = parse(source)
    return data_value(tree.root_node.named_children[0], src)
