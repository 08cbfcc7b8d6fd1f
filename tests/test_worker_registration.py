"""Every activity a workflow can call is registered by the worker, under its contract name and with
the contract's input and output types; and workflows call activities only through the contract."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import typing
from pathlib import Path
from typing import Any

from temporalio.activity import _Definition as ActivityDefinition

import contract.activities
from contract.activities import ActivityRef
from runtime.settings import Settings
from worker import activity_instances, activity_methods, open_dependencies

ROOT = Path(__file__).resolve().parent.parent


def contract_references() -> dict[str, ActivityRef[Any, Any]]:
    refs: dict[str, ActivityRef[Any, Any]] = {}
    for module_info in pkgutil.iter_modules(contract.activities.__path__):
        module = importlib.import_module(f"contract.activities.{module_info.name}")
        for value in vars(module).values():
            if isinstance(value, ActivityRef):
                assert value.name not in refs, f"{value.name} is declared twice"
                refs[value.name] = value
    return refs


async def registered_activities(tmp_path: Path) -> dict[str, Any]:
    settings = Settings(state_dir=tmp_path)
    async with open_dependencies(settings) as deps:
        methods = activity_methods(*activity_instances(deps, settings))
    by_name: dict[str, Any] = {}
    for method in methods:
        name = ActivityDefinition.must_from_callable(method).name
        assert name is not None
        assert name not in by_name, f"{name} is registered twice"
        by_name[name] = method
    return by_name


async def test_every_contract_activity_is_registered_with_its_types(tmp_path: Path) -> None:
    refs = contract_references()
    registered = await registered_activities(tmp_path)
    assert refs, "the contract declares no activity"
    assert sorted(set(refs) - set(registered)) == [], "declared but not registered"
    assert sorted(set(registered) - set(refs)) == [], "registered without a contract reference"
    for name, ref in refs.items():
        method = registered[name]
        hints = typing.get_type_hints(method)
        (parameter,) = [p for p in inspect.signature(method).parameters]
        assert hints[parameter] is ref.input, f"{name}: input {hints[parameter]} != {ref.input}"
        assert hints["return"] is ref.output, f"{name}: output {hints['return']} != {ref.output}"


def test_workflows_call_activities_only_through_the_pipeline_plumbing() -> None:
    direct_calls = []
    for path in sorted((ROOT / "workflows").glob("*.py")):
        if path.name == "pipeline.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("execute_")
                and "activity" in node.attr
            ):
                direct_calls.append(f"{path.name}:{node.lineno} {node.attr}")
    assert direct_calls == []


def test_workflows_import_only_domain_contract_and_workflows() -> None:
    allowed = ("domain", "contract", "workflows", "temporalio", "pydantic", "__future__")
    stdlib = {"asyncio", "contextlib", "collections", "dataclasses", "datetime", "enum", "typing"}
    imports = []
    for path in sorted((ROOT / "workflows").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            modules = []
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            for module in modules:
                top = module.split(".")[0]
                if top not in allowed and top not in stdlib:
                    imports.append(f"{path.name}: {module}")
    assert imports == []
