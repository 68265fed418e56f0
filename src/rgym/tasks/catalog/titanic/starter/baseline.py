"""Baseline: logistic regression on passenger class and sex.

Reads data/train.csv, fits, predicts every passenger in data/test.csv and writes
submission.csv (PassengerId,Survived). Run: python baseline.py
"""

import pandas as pd
from sklearn.linear_model import LogisticRegression

SEED = 0
FEATURES = ["Pclass", "Sex"]


def featurize(df: pd.DataFrame) -> pd.DataFrame:
    return pd.get_dummies(df[FEATURES].astype(str), dtype=float)


if __name__ == "__main__":
    train = pd.read_csv("data/train.csv")
    test = pd.read_csv("data/test.csv")
    x_train = featurize(train)
    x_test = featurize(test).reindex(columns=x_train.columns, fill_value=0.0)
    model = LogisticRegression(random_state=SEED).fit(x_train, train["Survived"])
    print(f"train accuracy: {model.score(x_train, train['Survived']):.4f}")
    out = pd.DataFrame({"PassengerId": test["PassengerId"], "Survived": model.predict(x_test)})
    out.to_csv("submission.csv", index=False)
    print(f"wrote submission.csv ({len(out)} rows)")
