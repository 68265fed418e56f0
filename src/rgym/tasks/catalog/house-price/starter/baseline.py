"""Baseline: ridge regression on all features.

Numeric columns: missing values filled with the column mean, then standardised. Categorical
columns: missing values filled with the constant "missing", then one-hot encoded. A Ridge
regression (alpha 0.1) predicts SalePrice directly. Writes submission.csv (Id,SalePrice).
Run: python baseline.py
"""

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

if __name__ == "__main__":
    train = pd.read_csv("data/train.csv")
    test = pd.read_csv("data/test.csv")
    x_train, y_train = train.drop(columns=["Id", "SalePrice"]), train["SalePrice"]
    numeric = x_train.select_dtypes("number").columns
    categorical = x_train.columns.difference(numeric)
    prep = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="mean"), StandardScaler()), numeric),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="missing"),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                categorical,
            ),
        ]
    )
    model = make_pipeline(prep, Ridge(alpha=0.1)).fit(x_train, y_train)
    fit = model.predict(x_train)
    rmse = np.sqrt(np.mean((fit - y_train) ** 2))
    print(f"train r2 {model.score(x_train, y_train):.4f}  train rmse {rmse:,.0f}")
    out = pd.DataFrame({"Id": test["Id"], "SalePrice": model.predict(test.drop(columns=["Id"]))})
    out.to_csv("submission.csv", index=False)
    print(f"wrote submission.csv ({len(out)} rows)")
