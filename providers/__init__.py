"""The live systems behind one small protocol (mlreg.planner.ports): MLflow and the policy database."""
