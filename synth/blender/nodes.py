"""A fresh shader material and its node tree, with short helpers: shared by the body's,
garments' and eyes' materials (``appearance.py``) and the hair's (``hair.py``), which build on
each other, so it sits in a module of its own below both. bpy only."""

from __future__ import annotations

import bpy


class Nodes:
    """A fresh material and its node tree, with short helpers."""

    def __init__(self, name: str):
        old = bpy.data.materials.get(name)
        if old is not None:
            bpy.data.materials.remove(old)
        self.mat = bpy.data.materials.new(name)
        if self.mat.node_tree is None:  # Blender 4.x: the tree comes with use_nodes
            self.mat.use_nodes = True
        self.tree = self.mat.node_tree
        self.tree.nodes.clear()
        self._x = 0

    def new(self, kind: str, **props):
        node = self.tree.nodes.new(kind)
        node.location = (self._x, 0)
        self._x += 200
        for k, v in props.items():
            setattr(node, k, v)
        return node

    def set(self, node, name: str, value) -> None:
        """Set an input (by name or identifier) to a plain value or link a socket into it."""
        if isinstance(name, int):
            sock = node.inputs[name]
        else:
            sock = node.inputs.get(name) or next(s for s in node.inputs if s.identifier == name)
        if isinstance(value, bpy.types.NodeSocket):
            self.tree.links.new(value, sock)
        elif isinstance(value, (list, tuple)) and sock.type == "RGBA":
            sock.default_value = (*value[:3], 1.0)
        else:
            sock.default_value = value

    def attribute(self, name: str, socket: str = "Fac"):
        return self.new("ShaderNodeAttribute", attribute_name=name, attribute_type="GEOMETRY").outputs[socket]

    def math(self, op: str, a, b=0.0):
        node = self.new("ShaderNodeMath", operation=op)
        for i, x in enumerate((a, b)):
            if isinstance(x, bpy.types.NodeSocket):
                self.tree.links.new(x, node.inputs[i])
            else:
                node.inputs[i].default_value = float(x)
        return node.outputs[0]

    def mix(self, fac, a, b, blend: str = "MIX"):
        node = self.new("ShaderNodeMix", data_type="RGBA", blend_type=blend)
        for key, x in (("Factor_Float", fac), ("A_Color", a), ("B_Color", b)):
            self.set(node, key, x)
        return next(s for s in node.outputs if s.identifier == "Result_Color")

    def output(self, shader) -> bpy.types.Material:
        out = self.new("ShaderNodeOutputMaterial")
        self.tree.links.new(shader, out.inputs["Surface"])
        return self.mat
