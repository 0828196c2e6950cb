"""Making calibrations: intrinsics from a board, extrinsics from the person, synchronisation.
Reading calibration files is engine.io.calibration."""
