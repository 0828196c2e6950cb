"""Anny's bone names -> the names of the rigs animators retarget onto: Mixamo (``mixamorig:``)
and Unreal's UE5 Mannequin (Manny). The table of addon/README.md ("The rig"), as data. Names
only: the rest pose stays Anny's (an A-pose, each bone's +Y along it).

Anny bones with no counterpart keep their own names (a retargeter skips bones it does not
know): ``pelvis.L/R``, ``shoulder01``, ``spine05``, ``spine03``, ``neck02``, ``neck03``, the
twist halves ``upperarm02``, ``lowerarm02``, ``upperleg02``, ``lowerleg02``, ``metacarpal1..4``
and the toes (UE5: the eyes too).
"""

from __future__ import annotations

from ..vendor.errors import InputError

RIGS = ("anny", "mixamo", "ue5")
FINGERS = ("Thumb", "Index", "Middle", "Ring", "Pinky")  # Anny's finger1 .. finger5


def _mixamo() -> dict[str, str]:
    names = {"root": "Hips", "spine04": "Spine", "spine02": "Spine1", "spine01": "Spine2", "neck01": "Neck",
             "head": "Head"}
    for side, word in ((".L", "Left"), (".R", "Right")):
        names.update({f"clavicle{side}": f"{word}Shoulder", f"upperarm01{side}": f"{word}Arm",
                      f"lowerarm01{side}": f"{word}ForeArm", f"wrist{side}": f"{word}Hand",
                      f"upperleg01{side}": f"{word}UpLeg", f"lowerleg01{side}": f"{word}Leg",
                      f"foot{side}": f"{word}Foot", f"eye{side}": f"{word}Eye"})
        for f, finger in enumerate(FINGERS, start=1):
            names.update({f"finger{f}-{k}{side}": f"{word}Hand{finger}{k}" for k in (1, 2, 3)})
    return {anny: "mixamorig:" + name for anny, name in names.items()}


def _ue5() -> dict[str, str]:
    names = {"root": "pelvis", "spine04": "spine_01", "spine02": "spine_03", "spine01": "spine_05",
             "neck01": "neck_01", "head": "head"}
    for side, s in ((".L", "l"), (".R", "r")):
        names.update({f"clavicle{side}": f"clavicle_{s}", f"upperarm01{side}": f"upperarm_{s}",
                      f"lowerarm01{side}": f"lowerarm_{s}", f"wrist{side}": f"hand_{s}",
                      f"upperleg01{side}": f"thigh_{s}", f"lowerleg01{side}": f"calf_{s}",
                      f"foot{side}": f"foot_{s}"})
        for f, finger in enumerate(FINGERS, start=1):
            names.update({f"finger{f}-{k}{side}": f"{finger.lower()}_0{k}_{s}" for k in (1, 2, 3)})
    return names


TABLES = {"anny": {}, "mixamo": _mixamo(), "ue5": _ue5()}


def target_names(bones: list[str], rig: str) -> dict[str, str]:
    """Each of ``bones`` (Anny's names) -> its name in ``rig`` (its own where ``rig`` has none)."""
    if rig not in TABLES:
        raise InputError(f"rig: expected one of {', '.join(RIGS)}, got {rig!r}")
    names = {b: TABLES[rig].get(b, b) for b in bones}
    taken = sorted(n for n in set(names.values()) if list(names.values()).count(n) > 1)
    if taken:  # a bone already named like a target bone: renaming would make Blender add ".001"
        raise InputError(f"rig {rig}: the armature's bones would share the name(s) {', '.join(taken)}")
    return names
