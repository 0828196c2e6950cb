"""argv: extension zip. Install and enable it as a user would; list what it registered."""

import sys

import bpy
from common import emit

result = bpy.ops.extensions.package_install_files(filepath=sys.argv[1], repo="user_default", enable_on_install=True)
emit({"result": sorted(result), "enabled": "bl_ext.user_default.diffproxy" in bpy.context.preferences.addons,
      "operators": sorted(dir(bpy.ops.diffproxy)),
      "panel": hasattr(bpy.types, "DIFFPROXY_PT_main")})
