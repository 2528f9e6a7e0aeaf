from crowd_model.cli import console

console()
