"""`python -m ferjax.predict`: label the faces in photos, folders and videos (see
ferjax.inference.predict)."""

from ferjax import cli
from ferjax.inference import predict

if __name__ == "__main__":
  cli.main(predict.main)
