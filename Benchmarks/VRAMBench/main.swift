print("vramd-bench")
